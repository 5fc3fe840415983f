"""Prometheus metrics of the validation service (qm_validation_*)."""
from __future__ import annotations

import collections

from prometheus_client import Counter, Histogram

from services.validation.handlers import Outcome

VERDICTS = Counter("qm_validation_verdicts", "Verdicts decided (redeliveries not counted again)", ["verdict"])
RULE_HITS = Counter("qm_validation_rule_hits", "Issues found, by rule code and severity", ["code", "severity"])
PROCESSING = Histogram(
    "qm_validation_processing_seconds",
    "Seconds to handle one batch: decode, judge, store, publish and broker acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERS = Counter("qm_validation_dead_letters", "Records sent to the dead-letter topic")
REPLAYED = Counter("qm_validation_replayed", "Stored verdicts re-published after a broker reset")

for _verdict in ("accepted", "accepted_with_warnings", "rejected"):
    VERDICTS.labels(_verdict)

REFUSED = Counter(
    "qm_validation_requests_refused_total", "Requests refused (4xx, 503), by status and first issue code", ["status", "code"]
)


def observe(outcome: Outcome, seconds: float) -> None:
    PROCESSING.observe(seconds)
    DEAD_LETTERS.inc(len(outcome.dead_letters))
    # Tallied first: a labels() lookup costs a microsecond, per verdict and per issue.
    for verdict, count in collections.Counter(v.verdict for v in outcome.decided).items():
        VERDICTS.labels(verdict).inc(count)
    for (code, severity), count in collections.Counter((i.code, i.severity) for v in outcome.decided for i in v.issues).items():
        RULE_HITS.labels(code, severity).inc(count)
