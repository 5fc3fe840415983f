"""A batch of reports as the ReportSubmitted records it becomes, serialized in one pass."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import TypeAdapter

from shared.events import SCHEMA_VERSION, ActivityReport, new_ids

_REPORTS = TypeAdapter(list[ActivityReport])
_INSTANT = TypeAdapter(datetime)


@dataclass(frozen=True)
class SubmittedBatch:
    """Reports of one request, each with its event id and its record value (ReportSubmitted JSON)."""

    reports: list[ActivityReport]
    event_ids: list[str]
    values: list[bytes]


def submitted_batch(
    reports: list[ActivityReport], *, submission_id: str, unit_id: str, received_at: float, campaign_time: datetime
) -> SubmittedBatch:
    """The same bytes as `encode(ReportSubmitted(...))` per report (tests hold the two equal), at a
    fifth of the cost: one envelope, one serializer pass over the reports, ids in one draw."""
    envelope = {
        "schema_version": SCHEMA_VERSION,
        "received_at": received_at,
        "campaign_time": _INSTANT.dump_python(campaign_time, mode="json"),
        "submission_id": submission_id,
        "unit_id": unit_id,
    }
    event_ids = new_ids(len(reports))
    values = [
        orjson.dumps({"event_id": event_id, **envelope, "report": report})
        for event_id, report in zip(event_ids, _REPORTS.dump_python(reports, mode="json"))
    ]
    return SubmittedBatch(reports, event_ids, values)
