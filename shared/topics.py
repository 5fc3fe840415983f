"""The topic registry: every topic's name, key, value type and its one producing service."""
from __future__ import annotations

from dataclasses import dataclass

from shared import events


@dataclass(frozen=True)
class TopicSpec:
    name: str
    value_type: type[events.Contract]
    key: str  # the field whose value is the record key (keeps one unit's events in order)
    producer: str  # the only service that writes this topic
    compacted: bool = False


REPORTS_SUBMITTED = TopicSpec("qm.reports.submitted.v1", events.ReportSubmitted, "unit_id", "submission")
RETURNS_FILED = TopicSpec("qm.returns.filed.v1", events.ReturnFiled, "unit_id", "submission")
REPORTS_VALIDATED = TopicSpec("qm.reports.validated.v1", events.ReportValidated, "unit_id", "validation")
# The rejections among those verdicts, the same records: notification alerts on them, and reading every
# verdict only to drop the accepted ones cost it and the broker about 5% of the pipeline (issue 13).
REPORTS_REJECTED = TopicSpec("qm.reports.rejected.v1", events.ReportValidated, "unit_id", "validation")
VALIDATION_DEAD_LETTERS = TopicSpec("qm.validation.dead-letters.v1", events.DeadLettered, "source_topic", "validation")
TOTALS_CHANGED = TopicSpec("qm.totals.changed.v1", events.TotalsChanged, "-", "aggregation")
REPORTS_SENT_BACK = TopicSpec("qm.reports.sent-back.v1", events.ReportSentBack, "unit_id", "submission")
RETURNS_STATUS = TopicSpec("qm.returns.status.v1", events.ReturnStatusChanged, "unit_id", "notification")
ALERTS_RAISED = TopicSpec("qm.alerts.raised.v1", events.AlertRaised, "unit_id", "notification")

# Each service's records that failed its handler too often (shared.inbox): kept, alerted, skipped.
DEAD_LETTERS = {
    "validation": VALIDATION_DEAD_LETTERS,
    **{
        service: TopicSpec(f"qm.{service}.dead-letters.v1", events.DeadLettered, "source_topic", service)
        for service in ("submission", "aggregation", "notification")
    },
}

# Not an event topic: its first record names the broker's current life (shared.epoch).
BROKER_EPOCH = "qm.broker-epoch"

ALL = (
    REPORTS_SUBMITTED,
    RETURNS_FILED,
    REPORTS_VALIDATED,
    REPORTS_REJECTED,
    REPORTS_SENT_BACK,
    VALIDATION_DEAD_LETTERS,
    TOTALS_CHANGED,
    RETURNS_STATUS,
    ALERTS_RAISED,
    DEAD_LETTERS["submission"],
    DEAD_LETTERS["aggregation"],
    DEAD_LETTERS["notification"],
)


def epoch_marker(service: str) -> str:
    """A topic only `service` creates: its absence means the broker forgot everything (Tansu restart)."""
    return f"qm.epoch.{service}"
