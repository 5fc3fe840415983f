"""What a request must be before it is accepted: request models, limits, versions, body hashes."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.events import ActivityReport, Issue, StoredText
from shared.refdata import metrics

MAX_REPORTS = 500
MAX_VERSION = 2**31 - 1  # versions are stored as PostgreSQL int
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Far above any plausible figure (validation's out_of_range starts at 10^6), far below what breaks
# storage: 2^63 (bigint of hundredths), 2^64 (orjson), PostgreSQL numeric's exponent range.
METRIC_LIMIT = 10**15


def metric_value(value: object) -> int | Decimal:
    """A metric as the contract says: a JSON number, nothing else ("5", "５", "1_000" or true are not),
    finite and below METRIC_LIMIT; integers stay integers, fractions become exact decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PydanticCustomError("number.type", "must be a JSON number, not {kind}", {"kind": type(value).__name__})
    if isinstance(value, float):
        # repr: the shortest text that reads back as this float, i.e. what was sent
        value = Decimal(repr(value)) if math.isfinite(value) else Decimal("Infinity")
    if not (isinstance(value, int) or value.is_finite()) or abs(value) >= METRIC_LIMIT:
        raise PydanticCustomError("number.out_of_range", "must be a finite number below {limit}", {"limit": METRIC_LIMIT})
    return value


DoorMetricValue = Annotated[int | Decimal, PlainValidator(metric_value), WithJsonSchema({"type": "number"})]


class ReportIn(ActivityReport):
    """A REPORT as a unit sends it: the contract's ActivityReport, with metric values held to JSON
    numbers (the event on the wire keeps decimals as strings, so the shared model must accept those)."""

    metrics: dict[str, DoorMetricValue] = Field(default_factory=dict)


class ReportsRequest(BaseModel):
    """Body of `POST /v1/reports`; `unit_id`, if sent, must be the token's own unit."""

    model_config = ConfigDict(extra="forbid")

    unit_id: StoredText | None = None
    reports: Annotated[list[ReportIn], Field(min_length=1, max_length=MAX_REPORTS)]


class ReturnRequest(BaseModel):
    """Body of `POST /v1/returns`; `unit_id`, if sent, must be the token's own unit."""

    model_config = ConfigDict(extra="forbid")

    unit_id: StoredText | None = None
    period_id: Annotated[StoredText, Field(max_length=32)]
    note: Annotated[StoredText, Field(max_length=2000)] = ""


@dataclass(frozen=True)
class Problem:
    """A reason to refuse the whole request, before anything is stored."""

    code: str
    field: str | None
    message_en: str
    message_zh: str


def valid_idempotency_key(key: str) -> bool:
    return bool(_IDEMPOTENCY_KEY.fullmatch(key))


def body_hash(endpoint: str, raw: bytes) -> str:
    """Hash of what was asked: the same JSON with other spacing or key order is the same request."""
    canonical = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(endpoint.encode() + b"\0" + canonical).hexdigest()


def report_problems(reports: list[ActivityReport]) -> list[Problem]:
    """Problems the gate refuses outright (the rest is validation's to judge, report by report)."""
    known = metrics()
    out: list[Problem] = []
    for i, r in enumerate(reports):
        if r.version > MAX_VERSION:
            out.append(Problem("schema", f"reports.{i}.version", f"version must be at most {MAX_VERSION}.", f"version 不能大于 {MAX_VERSION}。"))
        out.extend(
            Problem("metric.unknown", f"reports.{i}.metrics.{m}", f"Unknown metric '{m}'; see metrics.csv for the list.", f"未知指标“{m}”，请查阅指标清单。")
            for m in r.metrics
            if m not in known
        )
    return out


def newest_in_batch(reports: list[ActivityReport]) -> dict[str, int]:
    """report_id -> position of its highest version in this batch (the first, if repeated); the
    other positions of that report_id are stale whatever the database holds."""
    best: dict[str, int] = {}
    for i, r in enumerate(reports):
        j = best.get(r.report_id)
        if j is None or r.version > reports[j].version:
            best[r.report_id] = i
    return best


# %1$s is the version, %2$s the report id: PostgreSQL's format() fills the same texts where the
# database finds a version stale (store.save_reports), and stale_issue() where the batch itself does.
_STALE_EN = (
    "Version %1$s of report '%2$s' is not higher than a version already accepted; it was recorded but "
    "changed nothing. Send a higher version to correct the report."
)
_STALE_ZH = "报告“%2$s”的版本 %1$s 不高于已接收的版本，已记录但未产生任何变化。如需更正，请提交更高的版本号。"
_PLACEHOLDER = re.compile(r"%([12])\$s")


def stale_issue_template() -> dict:
    return Issue(code="version.stale", field="version", severity="warning", message_en=_STALE_EN, message_zh=_STALE_ZH).model_dump()


def stale_issue(report: ActivityReport) -> dict:
    args = (str(report.version), report.report_id)
    issue = stale_issue_template()
    for text in ("message_en", "message_zh"):
        issue[text] = _PLACEHOLDER.sub(lambda m: args[int(m[1]) - 1], issue[text])
    return issue
