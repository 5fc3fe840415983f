"""The return state machine and the schedule, as pure functions over a set campaign time."""
from __future__ import annotations

from datetime import timedelta

from services.notification.deadlines import advance, expected_returns, recipients
from services.notification.milestones import crossed
from shared.refdata import load_campaign, metrics, units

CAMPAIGN = load_campaign()
W1 = CAMPAIGN.period("W1")
DUE = W1.due_at
UNITS = {u: units()[u] for u in ("pudong", "samr")}


def run(now, states=None, filings=None):
    """One step, and the states it leaves (as the store would hold them)."""
    states = dict(states or {})
    step = advance(CAMPAIGN, UNITS, now, states, filings or {})
    states.update({(s.unit_id, s.period_id): s for s in step.states})
    return step, states


def w1(step, unit="samr"):
    return [t for t in step.transitions if t.unit_id == unit and t.period_id == "W1"], [
        a for a in step.alerts if a.unit_id == unit and a.period_id == "W1"
    ]


def test_every_unit_owes_every_period_and_the_first_step_announces_them():
    assert len(expected_returns(CAMPAIGN, units())) == len(units()) * 5
    step, _ = run(DUE - timedelta(days=5))
    assert {(t.previous, t.status) for t in step.transitions} == {(None, "not_due")}
    assert len(step.transitions) == 10 and step.alerts == []
    assert step.next_at == DUE - CAMPAIGN.reminder_before


def test_unit_that_files_on_time_gets_no_alert_ever():
    filed_at = DUE - timedelta(days=3)
    _, states = run(DUE - timedelta(days=4))
    step, states = run(filed_at + timedelta(hours=1), states, {("samr", "W1"): filed_at})
    moves, raised = w1(step)
    assert [(t.previous, t.status, t.filed_at) for t in moves] == [("not_due", "filed_on_time", filed_at)]
    for later in (DUE - timedelta(hours=1), DUE + timedelta(hours=1), DUE + timedelta(days=5)):
        step, states = run(later, states, {("samr", "W1"): filed_at})
        assert w1(step) == ([], [])


def test_silent_unit_is_reminded_then_overdue_then_escalated_then_filed_late():
    _, states = run(DUE - timedelta(days=2))
    step, states = run(DUE - timedelta(hours=23), states)
    assert [a.kind for a in w1(step)[1]] == ["reminder"] and w1(step)[0] == []
    assert step.next_at == DUE
    step, states = run(DUE - timedelta(hours=1), states)
    assert w1(step) == ([], [])  # one reminder at most
    step, states = run(DUE, states)
    moves, raised = w1(step)
    assert [(t.previous, t.status) for t in moves] == [("not_due", "overdue")]
    assert [a.dedup_key for a in raised] == ["overdue:samr:W1"]
    assert step.next_at == DUE + CAMPAIGN.escalation_after
    step, states = run(DUE + CAMPAIGN.escalation_after - timedelta(minutes=1), states)
    assert w1(step) == ([], [])
    step, states = run(DUE + CAMPAIGN.escalation_after, states)
    moves, raised = w1(step)
    assert [(t.previous, t.status) for t in moves] == [("overdue", "escalated")]
    assert raised[0].kind == "escalation" and raised[0].data["recipients"] == ["office"]
    filed_at = DUE + timedelta(days=3)
    step, states = run(filed_at, states, {("samr", "W1"): filed_at})
    moves, raised = w1(step)
    assert [(t.previous, t.status) for t in moves] == [("escalated", "filed_late")] and raised == []
    assert states[("samr", "W1")].escalated is True


def test_a_service_started_long_after_a_deadline_catches_up_in_one_step():
    step, _ = run(DUE + timedelta(days=3))
    moves, raised = w1(step, "pudong")
    assert [t.status for t in moves] == ["not_due", "overdue", "escalated"]
    assert [a.kind for a in raised] == ["overdue", "escalation"]  # no reminder after the deadline
    assert raised[1].data["recipients"] == ["pudong", "office"] and raised[1].data["district_office"] == "pudong"


def test_filing_read_late_counts_by_its_own_time():
    _, states = run(DUE + timedelta(hours=1))
    assert states[("samr", "W1")].status == "overdue"
    step, states = run(DUE + timedelta(hours=2), states, {("samr", "W1"): DUE - timedelta(minutes=5)})
    assert [t.status for t in w1(step)[0]] == ["filed_on_time"]


def test_exempt_units_owe_nothing():
    from dataclasses import replace

    campaign = replace(CAMPAIGN, exempt={"samr": ("W1",)})
    assert ("samr", "W1") not in expected_returns(campaign, UNITS)
    assert campaign.owes("samr", "W2")


def test_recipients_of_escalations_and_milestones():
    assert recipients("escalation", units()["huangpu"]) == ["huangpu", "office"]
    assert recipients("escalation", units()["samr"]) == ["office"]
    assert recipients("overdue", units()["samr"]) == ["samr"]
    assert recipients("milestone", None) == ["office"]


def test_milestones_crossed_once_each_mark():
    found = crossed(CAMPAIGN.milestones, {"activities": 1003, "articles": 49}, metrics())
    assert [a.dedup_key for a in found] == ["milestone:activities:100", "milestone:activities:500", "milestone:activities:1000"]
    assert "突破1000场" in found[-1].message_zh
