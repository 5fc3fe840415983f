"""Business rules over one report: pure functions returning issues a person can act on."""
from __future__ import annotations

from shared.events import ActivityReport, Issue
from shared.refdata import metrics


def check_report(unit_id: str, report: ActivityReport) -> list[Issue]:
    known = metrics()
    return [
        Issue(
            code="metric.unknown",
            field=f"metrics.{m}",
            message_en=f"Unknown metric '{m}'; use a metric_id from metrics.csv.",
            message_zh=f"未知指标“{m}”，请使用指标清单中的编号。",
        )
        for m in report.metrics
        if m not in known
    ]


def verdict_of(issues: list[Issue]) -> str:
    if any(i.severity == "error" for i in issues):
        return "rejected"
    return "accepted_with_warnings" if issues else "accepted"
