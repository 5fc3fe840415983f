"""Prometheus metrics of the aggregation service (module level: one registry per process)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "qm_aggregation_events_total", "Events consumed, by input and outcome (applied, ignored, undecodable)",
    ["input", "outcome"],
)
BATCH_SECONDS = Histogram(
    "qm_aggregation_batch_seconds", "Time to fold one batch into PostgreSQL and the live state", ["input"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_SECONDS = Gauge(
    "qm_aggregation_lag_seconds", "Real seconds from acceptance by submission to the totals, newest event of the last batch"
)
STREAM_CLIENTS = Gauge("qm_aggregation_stream_clients", "Clients connected to /v1/stream")
BACKLOG = Gauge("qm_aggregation_backlog_records", "Records on the broker not yet processed (last progress check)")
REFUSED = Counter(
    "qm_aggregation_requests_refused_total", "Requests refused (4xx, 503), by status and first issue code", ["status", "code"]
)
