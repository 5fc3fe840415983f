"""Event contracts between the services: immutable, versioned facts named in the past tense.

Every event carries `schema_version`; a change that is not backwards compatible bumps it and adds an
upcaster in `decode`. Wire format: UTF-8 JSON (pydantic), decimals as strings.
"""
from __future__ import annotations

import os
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic_core import PydanticCustomError

from shared.refdata import FocusArea

SCHEMA_VERSION = 1

MetricValue = StrictInt | Decimal


def _storable(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold U+0000: one such string would fail every batch it is in.
    if "\x00" in text:
        raise PydanticCustomError("text.nul", "must not contain NUL (U+0000) characters")
    return text


StoredText = Annotated[str, AfterValidator(_storable)]
"""A string PostgreSQL can store; the error type `text.nul` is also the issue code at the door."""


def new_id() -> str:
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """Ids of 32 hex digits, as uuid4().hex gave: the time in milliseconds (48 bits), then 80 random
    bits. Ids made later sort later, so every index on them grows at its end instead of touching a
    random page per row."""
    now = f"{time.time_ns() // 1_000_000:012x}"
    noise = os.urandom(10 * count).hex()
    return [now + noise[20 * i : 20 * i + 20] for i in range(count)]


class Contract(BaseModel):
    """Base of every contract model: immutable; unknown fields from newer producers are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ActivityReport(Contract):
    """One activity as a unit reports it (integration.md, REPORT)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_id: Annotated[StoredText, Field(min_length=1, max_length=64)]
    version: Annotated[StrictInt, Field(ge=1)]
    title: Annotated[StoredText, Field(min_length=1, max_length=200)]
    focus_area: FocusArea
    started_on: date
    ended_on: date | None = None
    district_id: StoredText | None = None
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    withdrawn: StrictBool = False


class Issue(Contract):
    """A problem found in a request or a report, phrased so a person can act on it."""

    code: str
    field: str | None = None
    message_zh: str
    message_en: str
    severity: Literal["error", "warning"] = "error"


class Event(Contract):
    event_id: str = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    # Real Unix time when the submission service accepted the originating request: the lag clock.
    received_at: float
    # Campaign-clock instant of the originating request: what "data as of" shows.
    campaign_time: datetime


class ReportSubmitted(Event):
    """A unit submitted (a version of) an activity report."""

    submission_id: str
    unit_id: str
    report: ActivityReport


class ReturnFiled(Event):
    """A unit declared its reporting for a period complete."""

    unit_id: str
    period_id: str
    note: StoredText = ""


Verdict = Literal["accepted", "accepted_with_warnings", "rejected"]


class ReportValidated(Event):
    """Validation's verdict on one submitted report version."""

    source_event_id: str
    submission_id: str
    unit_id: str
    district_id: str | None
    report: ActivityReport
    verdict: Verdict
    issues: tuple[Issue, ...] = ()


ReturnStatus = Literal["not_due", "filed_on_time", "overdue", "escalated", "filed_late"]


class ReturnStatusChanged(Event):
    """An expected return (unit x period) moved to a new state."""

    unit_id: str
    period_id: str
    status: ReturnStatus
    previous: ReturnStatus | None = None
    due_at: datetime
    filed_at: datetime | None = None


AlertKind = Literal["reminder", "overdue", "escalation", "rejection", "milestone", "dead_letter", "sent_back"]


class AlertRaised(Event):
    """An alert for people: a reminder, an overdue return, an escalation, a rejection, a milestone, or a
    record a service could not handle (for the office)."""

    alert_id: str
    kind: AlertKind
    unit_id: str | None = None
    period_id: str | None = None
    raised_at: datetime
    message_zh: str
    message_en: str
    data: dict[str, Any] = Field(default_factory=dict)


class ReportSentBack(Event):
    """The office sent a counted version of a report back to its unit for correction: that version
    leaves the totals; a higher version from the unit goes through validation and counts again."""

    unit_id: str
    report_id: str
    version: int
    reason: str
    sent_by: str  # the office token's id (shared.auth.token_id)


class TotalsChanged(Event):
    """City-wide totals after a batch of accepted reports (for milestones and other followers)."""

    totals: dict[str, MetricValue]


class DeadLettered(Contract):
    """A record that could not be decoded or handled, kept with the reason."""

    event_id: str = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    source_topic: str
    partition: int
    offset: int
    reason: str
    raw: str
    dead_at: float


def encode(event: Contract) -> bytes:
    return event.model_dump_json().encode()


def decode(model: type[Contract], raw: bytes | str) -> Any:
    """Decode one record; raises pydantic.ValidationError for anything that is not a valid event."""
    return model.model_validate_json(raw)
