"""What the live system must show once a plan has played: exact totals, return statuses and alerts. Pure.

Semantics taken from docs/integration.md: a higher version replaces a lower one, an equal or lower
one is a no-op, a withdrawal removes the report, a rejected version leaves the last accepted one
counting; a report counts on its started_on day and in its district (its own or its unit's).
A return is filed on time when filed at or before its due instant; a reminder is owed when it is
not filed `reminder_before` ahead of the deadline, an overdue alert when not filed by the
deadline, an escalation when still not filed `escalation_after` past it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from deploy.simulator.plan import Plan
from shared.refdata import Unit, metrics

Groups = dict[str, dict[str, dict[str, int]]]  # dimension -> group -> metric -> scaled value
DIMENSIONS = ("city", "unit", "district", "focus_area", "day")


@dataclass
class Expected:
    totals: Groups
    returns: dict[tuple[str, str], str]  # (unit_id, period_id) -> filed_on_time | filed_late | overdue
    filed_at: dict[tuple[str, str], datetime]
    alerts: Counter  # (kind, unit_id, period_id) -> count, for reminder / overdue / escalation
    rejections: Counter  # unit_id -> rejected report versions that reached validation
    milestones: tuple[int, int]  # at least, at most (a crossing undone later may or may not be seen)
    reports: int = 0
    counts: Counter = field(default_factory=Counter)  # actions by label


def scaled(metric_id: str, value: int | float) -> int:
    """Exact integers: counts as they are, money amounts in hundredths (as the aggregation keeps them)."""
    metric = metrics().get(metric_id)
    if metric is not None and metric.value_type == "amount":
        return int((Decimal(str(value)) * 100).to_integral_value())
    return int(value)


def contribution(unit: Unit, body: dict) -> dict[tuple[str, str], dict[str, int]]:
    if body.get("withdrawn"):
        return {}
    groups = {
        "city": "all",
        "unit": unit.unit_id,
        "district": body.get("district_id") or unit.district_id,
        "focus_area": body["focus_area"],
        "day": body["started_on"],
    }
    values = {m: scaled(m, v) for m, v in body["metrics"].items()}
    return {(dim, g): values for dim, g in groups.items() if g}


def expected_outcome(plan: Plan, units: dict[str, Unit], http_rejected: set[str] | None = None) -> Expected:
    """`http_rejected`: idempotency keys of invalid requests the API refused outright (no verdict follows)."""
    http_rejected = http_rejected or set()
    ledger: dict[tuple[str, str], dict] = {}
    counts: Counter = Counter(a.label for a in plan.actions)
    rejections: Counter = Counter()
    filed_at: dict[tuple[str, str], datetime] = {}
    running: Counter = Counter()
    peak: Counter = Counter()
    for action in plan.actions:
        if action.kind == "return":
            filed_at.setdefault((action.unit_id, action.period_id), action.at)
            continue
        if not action.valid:
            if 202 in action.expect_http and action.idempotency_key not in http_rejected:
                rejections[action.unit_id] += len(action.reports)
            continue
        for body in action.reports:
            key = (action.unit_id, body["report_id"])
            before = ledger.get(key)
            if before is not None and body["version"] <= before["version"]:
                continue
            ledger[key] = body
            for m, v in body["metrics"].items():
                delta = (0 if body.get("withdrawn") else scaled(m, v)) - (
                    0 if before is None or before.get("withdrawn") else scaled(m, before["metrics"].get(m, 0))
                )
                running[m] += delta
                peak[m] = max(peak[m], running[m])
    totals: Groups = {d: defaultdict(Counter) for d in DIMENSIONS}  # type: ignore[misc]
    for (unit_id, _), body in ledger.items():
        for (dim, group), values in contribution(units[unit_id], body).items():
            totals[dim][group].update(values)
    clean = {d: {g: {m: v for m, v in c.items() if v} for g, c in gs.items()} for d, gs in totals.items()}
    clean = {d: {g: c for g, c in gs.items() if c} for d, gs in clean.items()}

    returns, alerts = {}, Counter()
    campaign = plan.campaign
    for (unit_id, period_id) in plan.behaviours:
        period = campaign.period(period_id)
        filed = filed_at.get((unit_id, period_id))
        due = period.due_at
        returns[(unit_id, period_id)] = "overdue" if filed is None else ("filed_on_time" if filed <= due else "filed_late")
        for kind, instant in (("reminder", due - campaign.reminder_before), ("overdue", due), ("escalation", due + campaign.escalation_after)):
            if filed is None or filed > instant:
                alerts[(kind, unit_id, period_id)] += 1
    final = {m: sum(c.get(m, 0) for c in clean["city"].values()) for m in campaign.milestones}
    at_least = sum(1 for m, marks in campaign.milestones.items() for t in marks if final.get(m, 0) >= scaled(m, t))
    at_most = sum(1 for m, marks in campaign.milestones.items() for t in marks if peak.get(m, 0) >= scaled(m, t))
    return Expected(clean, returns, filed_at, alerts, rejections, (at_least, at_most), len(ledger), counts)
