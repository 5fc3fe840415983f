"""Prometheus metrics of the submission service, and the ASGI middleware that counts outcomes."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("qm_submission_requests_total", "API requests by outcome.", ["outcome"])
REPORTS_ACCEPTED = Counter("qm_submission_reports_accepted_total", "Reports accepted (stale versions included).")
REPORTS_STALE = Counter("qm_submission_reports_stale_total", "Reports accepted as no-ops: version not higher than accepted.")
OUTBOX_DEPTH = Gauge("qm_submission_outbox_depth", "Events in the outbox not yet published to Kafka.")
PUBLISH_LATENCY = Histogram(
    "qm_submission_publish_latency_seconds",
    "From a request's commit to the broker's acknowledgement of its records, once per request.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PUBLISHED = Counter("qm_submission_published_total", "Outbox records acknowledged by the broker.")
REFUSED = Counter(
    "qm_submission_requests_refused_total", "Requests refused (4xx, 503), by status and first issue code", ["status", "code"]
)
REQUEUED = Counter("qm_submission_requeued_total", "Outbox records re-queued after a broker reset.")

_BY_STATUS = {
    200: "ok", 202: "accepted", 400: "malformed", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "invalid", 409: "conflict", 413: "too_large", 415: "invalid", 422: "invalid", 429: "rate_limited",
}


def outcome_of(status: int, flagged: str | None) -> str:
    if flagged:
        return flagged
    return _BY_STATUS.get(status, "error" if status >= 500 else "other")


class OutcomeCounter:
    """Counts every `/v1/` request by outcome; a route may name it (e.g. `replayed`) in scope state."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        status = 500

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            REQUESTS.labels(outcome_of(status, scope.get("state", {}).get("outcome"))).inc()
