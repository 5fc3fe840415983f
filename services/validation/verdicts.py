"""Turns one decoded submission into its verdict: report rules, then history rules; accepted
reports enter the history the next ones are compared with."""
from __future__ import annotations

from services.validation.history import History, check_history
from services.validation.rules import RuleContext, check_report, verdict_of
from shared.events import ReportSubmitted, ReportValidated, new_id
from shared.refdata import units


def judge(ctx: RuleContext, history: History, event: ReportSubmitted, event_id: str | None = None) -> ReportValidated:
    """`event_id`: the verdict's own id, when the caller drew a batch's ids at once (one random draw
    per verdict was 4% of validation's CPU)."""
    report = event.report
    issues = check_report(ctx, event.unit_id, report) + check_history(ctx, history, event.unit_id, report)
    unit = units().get(event.unit_id)
    validated = ReportValidated(
        event_id=event_id or new_id(),
        received_at=event.received_at,
        campaign_time=event.campaign_time,
        source_event_id=event.event_id,
        submission_id=event.submission_id,
        unit_id=event.unit_id,
        district_id=report.district_id or (unit.district_id if unit else None),
        report=report,
        verdict=verdict_of(issues),
        issues=tuple(issues),
    )
    if validated.verdict != "rejected":
        # Only accepted reports count as history: a rejected one never happened for the totals.
        history.record(event.unit_id, report)
    return validated
