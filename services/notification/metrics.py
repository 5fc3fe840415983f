"""Prometheus metrics of the notification service."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS = Counter("qm_notification_alerts_total", "Alerts raised (each once), by kind", ["kind"])
DELIVERIES = Counter(
    "qm_notification_deliveries_total", "Delivery attempts by channel and outcome (delivered, failed, dead)", ["channel", "outcome"]
)
OVERDUE = Gauge("qm_notification_overdue_returns", "Returns past their deadline and not filed (incl. escalated)")
REFUSED = Counter(
    "qm_notification_requests_refused_total", "Requests refused (4xx, 503), by status and first issue code", ["status", "code"]
)
