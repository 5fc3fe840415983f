"""Expected returns as small state machines: given campaign time, filings and current states, the
transitions that happen and the alerts they raise. Pure: no I/O, no clock of its own."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from shared.refdata import Campaign, Period, Unit

Key = tuple[str, str]  # (unit_id, period_id)
FILED = ("filed_on_time", "filed_late")
OFFICE = "office"  # recipient id of the campaign office (市质量工作领导小组办公室)


@dataclass(frozen=True)
class ReturnState:
    """Where one expected return stands; `escalated` stays true after a late filing."""

    unit_id: str
    period_id: str
    due_at: datetime
    status: str = "not_due"
    filed_at: datetime | None = None
    reminded: bool = False
    escalated: bool = False


@dataclass(frozen=True)
class Transition:
    unit_id: str
    period_id: str
    previous: str | None
    status: str
    due_at: datetime
    filed_at: datetime | None


@dataclass(frozen=True)
class PlannedAlert:
    """An alert to raise once: `dedup_key` makes a second raise (after a restart) a no-op."""

    dedup_key: str
    kind: str
    unit_id: str | None
    period_id: str | None
    message_zh: str
    message_en: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    states: list[ReturnState]  # only the new or changed ones
    transitions: list[Transition]
    alerts: list[PlannedAlert]
    next_at: datetime | None  # the next instant at which something can happen without a filing


def expected_returns(campaign: Campaign, unit_ids: Iterable[str]) -> list[Key]:
    """Every (unit, period) a return is owed for: the completeness denominator."""
    return [(u, p.period_id) for p in campaign.periods for u in unit_ids if campaign.owes(u, p.period_id)]


def advance(
    campaign: Campaign,
    units: Mapping[str, Unit],
    now: datetime,
    states: Mapping[Key, ReturnState],
    filings: Mapping[Key, datetime],
) -> Step:
    """Move every expected return as far as `now` and the filings allow."""
    changed, transitions, alerts, wakes = [], [], [], []
    for unit_id, period_id in expected_returns(campaign, units):
        period = campaign.period(period_id)
        assert period is not None
        before = states.get((unit_id, period_id))
        state, moves, raised = _advance_one(campaign, units[unit_id], period, now, before, filings.get((unit_id, period_id)))
        if state != before:
            changed.append(state)
        transitions += moves
        alerts += raised
        if (wake := _next_instant(campaign, state, now)) is not None:
            wakes.append(wake)
    return Step(changed, transitions, alerts, min(wakes, default=None))


def _advance_one(
    campaign: Campaign, unit: Unit, period: Period, now: datetime, before: ReturnState | None, filed_at: datetime | None
) -> tuple[ReturnState, list[Transition], list[PlannedAlert]]:
    state = before or ReturnState(unit.unit_id, period.period_id, period.due_at)
    moves: list[Transition] = []
    raised: list[PlannedAlert] = []

    def move(new: ReturnState) -> ReturnState:
        moves.append(Transition(new.unit_id, new.period_id, state.status, new.status, new.due_at, new.filed_at))
        return new

    if before is None:
        # The first event of every return announces it, so followers know the whole expected set.
        moves.append(Transition(unit.unit_id, period.period_id, None, "not_due", period.due_at, None))
    if state.status in FILED:
        return state, moves, raised
    if filed_at is not None:
        # The filing's own campaign time decides, so a filing read late is still on time.
        status = "filed_on_time" if filed_at <= period.due_at else "filed_late"
        state = move(replace(state, status=status, filed_at=filed_at))
        return state, moves, raised
    due, tz = period.due_at, ZoneInfo(campaign.timezone)
    if state.status == "not_due" and not state.reminded and due - campaign.reminder_before <= now < due:
        raised.append(_reminder(unit, period, tz))
        state = replace(state, reminded=True)
    if state.status == "not_due" and now >= due:
        state = move(replace(state, status="overdue"))
        raised.append(_overdue(unit, period, tz))
    if state.status == "overdue" and now >= due + campaign.escalation_after:
        state = move(replace(state, status="escalated", escalated=True))
        raised.append(_escalation(unit, period, tz, campaign.escalation_after))
    return state, moves, raised


def _next_instant(campaign: Campaign, state: ReturnState, now: datetime) -> datetime | None:
    candidates = []
    if state.status == "not_due":
        remind_at = state.due_at - campaign.reminder_before
        if not state.reminded and remind_at > now:
            candidates.append(remind_at)
        candidates.append(state.due_at)
    elif state.status == "overdue":
        candidates.append(state.due_at + campaign.escalation_after)
    return min((c for c in candidates if c > now), default=None)


def recipients(kind: str, unit: Unit | None) -> list[str]:
    """Who an alert goes to: the unit itself, or for an escalation its district office and the
    campaign office (a district-kind unit is its own district office); milestones go to the office."""
    if kind == "escalation":
        return ([unit.unit_id] if unit is not None and unit.kind == "district" else []) + [OFFICE]
    if unit is None:
        return [OFFICE]
    return [unit.unit_id]


def _when(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _data(kind: str, unit: Unit, period: Period, **extra) -> dict:
    return {"due_at": period.due_at.isoformat(), "recipients": recipients(kind, unit), **extra}


def _reminder(unit: Unit, period: Period, tz: ZoneInfo) -> PlannedAlert:
    due = _when(period.due_at, tz)
    return PlannedAlert(
        f"reminder:{unit.unit_id}:{period.period_id}", "reminder", unit.unit_id, period.period_id,
        f"提醒：{unit.name_zh}{period.label_zh}报表将于{due}截止，尚未报送。",
        f"Reminder: {unit.name_en}'s return for {period.period_id} is due {due} and has not been filed.",
        _data("reminder", unit, period),
    )


def _overdue(unit: Unit, period: Period, tz: ZoneInfo) -> PlannedAlert:
    due = _when(period.due_at, tz)
    return PlannedAlert(
        f"overdue:{unit.unit_id}:{period.period_id}", "overdue", unit.unit_id, period.period_id,
        f"逾期：{unit.name_zh}{period.label_zh}报表已于{due}截止，仍未报送，请尽快报送。",
        f"Overdue: {unit.name_en}'s return for {period.period_id} was due {due} and has not been filed.",
        _data("overdue", unit, period),
    )


def _escalation(unit: Unit, period: Period, tz: ZoneInfo, grace: timedelta) -> PlannedAlert:
    due, hours = _when(period.due_at, tz), f"{grace.total_seconds() / 3600:g}"
    district_office = unit.unit_id if unit.kind == "district" else None
    return PlannedAlert(
        f"escalation:{unit.unit_id}:{period.period_id}", "escalation", unit.unit_id, period.period_id,
        f"督办：{unit.name_zh}{period.label_zh}报表截止（{due}）已超过{hours}小时仍未报送。",
        f"Escalation: {unit.name_en}'s return for {period.period_id} is still missing {hours} h after its deadline ({due}).",
        _data("escalation", unit, period, district_office=district_office, campaign_office=True),
    )
