"""Completeness: the denominator is the expected returns, states only move forward, stray events are ignored."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from services.aggregation.completeness import (
    ReturnState, completeness, expected_returns, fold_states, next_deadline, return_rows,
)
from services.aggregation.visibility import View
from shared.refdata import load_campaign, units

CAMPAIGN = load_campaign()
DUE = datetime(2022, 9, 9, 4, tzinfo=timezone.utc)
T = datetime(2022, 9, 9, tzinfo=timezone.utc)


def state(unit, period, status, minutes):
    filed = T + timedelta(minutes=minutes) if status.startswith("filed") else None
    return ReturnState(unit, period, status, DUE, filed, T + timedelta(minutes=minutes))


def test_latest_state_wins_whatever_the_delivery_order():
    history = [
        state("pudong", "W1", "not_due", 0), state("pudong", "W1", "overdue", 10),
        state("pudong", "W1", "escalated", 20), state("pudong", "W1", "filed_late", 30),
        state("samr", "W1", "not_due", 0), state("samr", "W1", "filed_on_time", 5),
    ]
    expected = set(expected_returns(units(), CAMPAIGN))
    for seed in range(20):
        delivered = history + random.Random(seed).sample(history, 3)
        random.Random(seed).shuffle(delivered)
        board: dict = {}
        for i in range(0, len(delivered), 2):
            board.update(fold_states(board, delivered[i : i + 2], expected))
        assert board[("pudong", "W1")].status == "filed_late"
        assert board[("samr", "W1")].status == "filed_on_time"


def test_rate_never_exceeds_one_and_strays_are_not_counted():
    pairs = expected_returns(units(), CAMPAIGN)
    assert len(pairs) == len(units()) * len(CAMPAIGN.periods)
    board: dict = {}
    strays = [state("nobody", "W1", "filed_on_time", 1), state("pudong", "W9", "filed_on_time", 1)]
    everyone = [state(u, "W1", "filed_on_time", 1) for u in units()]
    board.update(fold_states(board, strays + everyone + everyone, set(pairs)))
    result = completeness(board, pairs)
    assert result["W1"] == {"expected": len(units()), "filed_on_time": len(units()), "filed_late": 0,
                            "overdue": 0, "not_yet": 0, "rate": 1.0}
    assert result["W2"]["not_yet"] == len(units()) and result["W2"]["rate"] == 0


def test_overdue_and_escalated_count_as_overdue_and_rows_default_to_not_due():
    pairs = [("pudong", "W1"), ("huangpu", "W1"), ("jingan", "W1"), ("xuhui", "W1")]
    board = {("pudong", "W1"): state("pudong", "W1", "overdue", 1), ("huangpu", "W1"): state("huangpu", "W1", "escalated", 2),
             ("jingan", "W1"): state("jingan", "W1", "filed_late", 3)}
    row = completeness(board, pairs)["W1"]
    assert (row["overdue"], row["filed_late"], row["not_yet"], row["rate"]) == (2, 1, 1, 0.25)
    rows = return_rows(board, pairs, CAMPAIGN)
    assert rows[3] == {"unit_id": "xuhui", "period_id": "W1", "status": "not_due",
                       "due_at": CAMPAIGN.period("W1").due_at.isoformat(), "filed_at": None}


def test_next_deadline_follows_the_campaign_clock():
    assert next_deadline(CAMPAIGN, datetime(2022, 9, 1, tzinfo=timezone.utc))["period_id"] == "W1"
    assert next_deadline(CAMPAIGN, datetime(2022, 9, 10, tzinfo=timezone.utc))["period_id"] == "W2"
    assert next_deadline(CAMPAIGN, datetime(2022, 11, 1, tzinfo=timezone.utc)) is None


def test_views_by_role():
    office, district, unit = View("office", "office"), View("district", "pudong"), View("unit", "samr")
    assert (office.scope, district.scope, unit.scope) == ("all", "district:pudong", "unit:samr")
    assert (district.headline_scope, unit.headline_scope) == ("district:pudong", "all")
    assert district.sees_unit("pudong") and not district.sees_unit("samr") and district.sees_unit(None)
    assert unit.sees_unit("samr") and unit.sees_unit(None) and not unit.sees_unit("pudong")
    assert district.sees_activity("samr", "pudong") and not district.sees_activity("pudong", "xuhui")
