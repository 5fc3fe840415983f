"""The simulator's plan and expected outcome: deterministic, realistic in mix, exact in arithmetic."""
from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from deploy.simulator.expected import expected_outcome, scaled
from deploy.simulator.plan import RETURN_MARGIN, build_plan
from shared.refdata import load_campaign, units


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_campaign(), units(), seed=2022, scale=1.0)


def test_same_seed_same_campaign_and_another_seed_another(plan):
    assert build_plan(load_campaign(), units(), seed=2022, scale=1.0).actions == plan.actions
    assert build_plan(load_campaign(), units(), seed=2023, scale=1.0).actions != plan.actions


def test_scale_one_is_about_the_2022_campaign(plan):
    expected = expected_outcome(plan, units())
    city = expected.totals["city"]["all"]
    assert 800 <= city["activities"] <= 1300  # the circular: 1000多场
    assert 100_000 <= city["participants"] <= 300_000  # 近20万人次
    labels = Counter(a.label for a in plan.actions)
    for label in ("submit", "correction", "withdrawal", "retry", "stale", "invalid", "fix", "invalid_correction", "bad_request", "return"):
        assert labels[label] > 0, label
    assert Counter(plan.profiles.values())["silent"] == 2
    assert set(plan.behaviours.values()) == {"prompt", "after_reminder", "late", "very_late", "never"}


def test_actions_are_in_campaign_order_and_weekdays_are_busier(plan):
    assert [a.at for a in plan.actions] == sorted(a.at for a in plan.actions)
    by_weekday = Counter()
    for a in plan.actions:
        if a.label == "submit":
            for body in a.reports:
                by_weekday[date.fromisoformat(body["started_on"]).weekday()] += 1
    assert by_weekday[2] > 2 * by_weekday[6]


def test_returns_keep_clear_of_every_reminder_deadline_and_escalation(plan):
    campaign = plan.campaign
    for action in plan.actions:
        if action.label != "return":
            continue
        due = campaign.period(action.period_id).due_at
        for boundary in (due - campaign.reminder_before, due, due + campaign.escalation_after):
            assert abs(action.at - boundary) >= RETURN_MARGIN


def test_invalid_reports_never_count_and_the_last_valid_version_does():
    plan = build_plan(load_campaign(), units(), seed=5, scale=0.2)
    expected = expected_outcome(plan, units())
    latest: dict = {}
    for action in plan.actions:
        if action.kind == "reports" and action.valid:
            for body in action.reports:
                key = (action.unit_id, body["report_id"])
                if key not in latest or body["version"] > latest[key]["version"]:
                    latest[key] = body
    participants = sum(b["metrics"].get("participants", 0) for b in latest.values() if not b.get("withdrawn"))
    assert expected.totals["city"]["all"]["participants"] == participants
    invalid_ids = {b["report_id"] for a in plan.actions if not a.valid for b in a.reports}
    invalid_only = {r for r in invalid_ids if not any(k[1] == r for k in latest)}
    assert invalid_only  # some invalid reports are never fixed and so must not appear anywhere
    # Every dimension adds up to the city total.
    for dim in ("unit", "focus_area", "day"):
        assert sum(g.get("participants", 0) for g in expected.totals[dim].values()) == participants
    # Rejections are expected for invalid requests that reach validation, not for those the API refuses.
    refused = {a.idempotency_key for a in plan.actions if a.label == "bad_request"}
    reaching = sum(len(a.reports) for a in plan.actions if not a.valid and a.label != "bad_request")
    assert sum(expected_outcome(plan, units(), refused).rejections.values()) == reaching


def test_alerts_and_statuses_follow_when_returns_are_filed(plan):
    expected = expected_outcome(plan, units())
    for (unit, period), behaviour in plan.behaviours.items():
        status = expected.returns[(unit, period)]
        kinds = {k for (k, u, p) in expected.alerts if (u, p) == (unit, period)}
        assert (status, kinds) == {
            "prompt": ("filed_on_time", set()),
            "after_reminder": ("filed_on_time", {"reminder"}),
            "late": ("filed_late", {"reminder", "overdue"}),
            "very_late": ("filed_late", {"reminder", "overdue", "escalation"}),
            "never": ("overdue", {"reminder", "overdue", "escalation"}),
        }[behaviour]


def test_money_is_kept_exact_in_hundredths():
    assert scaled("profit_added", 0.29) == 29 and scaled("profit_added", 1.1) == 110
    assert scaled("participants", 7) == 7


def test_only_the_active_units_play_and_the_rest_owe_every_return():
    plan = build_plan(load_campaign(), units(), seed=7, scale=0.2, active_units=24)
    playing = {a.unit_id for a in plan.actions}
    assert len(playing) <= 24 and len(plan.profiles) == 56
    expected = expected_outcome(plan, units())
    silent = [u for u, p in plan.profiles.items() if p == "silent"]
    assert len(silent) == 32 + 2
    assert all(expected.returns[(u, p.period_id)] == "overdue" for u in silent for p in plan.campaign.periods)
