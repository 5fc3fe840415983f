"""Business rules over one report: pure functions returning issues a person can act on."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.validation.catalogue import Catalogue
from shared.events import ActivityReport, Issue
from shared.refdata import FOCUS_AREAS, Campaign, Metric, districts, metrics, units


@dataclass(frozen=True)
class RuleContext:
    """What the rules read besides the report: the catalogue and the campaign (its window)."""

    catalogue: Catalogue
    campaign: Campaign


def check_report(ctx: RuleContext, unit_id: str, report: ActivityReport) -> list[Issue]:
    """Every finding of the rules that need nothing but the report itself."""
    issues = []
    if unit_id not in units():
        issues.append(ctx.catalogue.issue("unit.unknown", "unit_id", unit_id=unit_id))
    if report.withdrawn:
        # A withdrawal takes the report out of every total; its old figures no longer matter.
        return issues
    issues += check_dates(ctx, report)
    if report.district_id is not None and report.district_id not in districts():
        issues.append(ctx.catalogue.issue("district.unknown", "district_id", district_id=report.district_id))
    issues += check_metrics(ctx, report)
    issues += check_focus_area(ctx, report)
    issues += check_related(ctx, report)
    return issues


def check_dates(ctx: RuleContext, report: ActivityReport) -> list[Issue]:
    start, end = ctx.campaign.starts_on, ctx.campaign.ends_on
    issues = [
        ctx.catalogue.issue("date.outside_window", name, field=name, value=day.isoformat(), start=start, end=end)
        for name, day in (("started_on", report.started_on), ("ended_on", report.ended_on))
        if day is not None and not start <= day <= end
    ]
    if report.ended_on is not None and report.ended_on < report.started_on:
        issues.append(
            ctx.catalogue.issue(
                "date.end_before_start", "ended_on", started_on=report.started_on, ended_on=report.ended_on
            )
        )
    return issues


def metric_params(metric: Metric, value: int | Decimal) -> dict[str, object]:
    return {
        "metric": metric.metric_id, "label_zh": metric.label_zh, "label_en": metric.label_en,
        "unit_zh": metric.unit_zh, "value": value,
    }


def check_metrics(ctx: RuleContext, report: ActivityReport) -> list[Issue]:
    known, t, issue = metrics(), ctx.catalogue.thresholds, ctx.catalogue.issue
    issues = []
    for metric_id, value in report.metrics.items():
        field = f"metrics.{metric_id}"
        metric = known.get(metric_id)
        if metric is None:
            issues.append(issue("metric.unknown", field, metric=metric_id))
            continue
        params = metric_params(metric, value)
        if value < 0:
            issues.append(issue("metric.negative", field, **params))
        if isinstance(value, Decimal):
            if metric.value_type == "count" and value != value.to_integral_value():
                issues.append(issue("metric.not_integer", field, **params))
            elif metric.value_type == "amount" and -value.normalize().as_tuple().exponent > t.amount_decimals:
                issues.append(issue("metric.too_many_decimals", field, decimals=t.amount_decimals, **params))
        ceiling = t.max_value_by_metric.get(metric_id, t.max_value[metric.value_type])
        if value > ceiling:
            issues.append(issue("metric.out_of_range", field, max=ceiling, **params))
    return issues


def check_focus_area(ctx: RuleContext, report: ActivityReport) -> list[Issue]:
    known = metrics()
    return [
        ctx.catalogue.issue(
            "focus.metric_required", f"metrics.{m}", focus_area=report.focus_area,
            focus_zh=FOCUS_AREAS[report.focus_area], metric=m, label_zh=known[m].label_zh, label_en=known[m].label_en,
        )
        for m in ctx.catalogue.thresholds.required_metrics.get(report.focus_area, ())
        if not report.metrics.get(m, 0) > 0
    ]


def check_related(ctx: RuleContext, report: ActivityReport) -> list[Issue]:
    known, values = metrics(), report.metrics
    return [
        ctx.catalogue.issue(
            "metric.below_related", f"metrics.{pair.metric}", metric=pair.metric, label_zh=known[pair.metric].label_zh,
            label_en=known[pair.metric].label_en, value=values[pair.metric], other=pair.other,
            other_label_zh=known[pair.other].label_zh, other_label_en=known[pair.other].label_en,
            other_value=values[pair.other], why_zh=pair.why_zh, why_en=pair.why_en,
        )
        for pair in ctx.catalogue.thresholds.at_least
        if pair.metric in values and pair.other in values and values[pair.metric] < values[pair.other]
    ]


def verdict_of(issues: list[Issue]) -> str:
    if any(i.severity == "error" for i in issues):
        return "rejected"
    return "accepted_with_warnings" if issues else "accepted"
