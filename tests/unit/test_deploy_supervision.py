"""The supervisor's pure rules (backoff, when a service counts as hung) and the default season."""
from __future__ import annotations

from datetime import datetime, timezone

from deploy.season import campaign_year, schedule_for
from deploy.supervisor import Backoff, Readiness


def test_backoff_doubles_resets_after_a_healthy_run_and_gives_up():
    b = Backoff(first=1, cap=8, healthy_after=60, max_restarts=4, window=300, started_at=0)
    delays = []
    for t in (1, 2, 4, 8):
        delays.append(b.delay(t))
        b.restarted(t)
    assert delays == [1, 2, 4, 8]
    assert b.delay(9) is None, "a fifth crash within the window: give up"
    b.restarted(100)
    assert b.delay(161) == 1, "up for a minute: start over"


def test_readiness_tolerates_a_slow_start_but_not_a_hang():
    r = Readiness()
    r.update(False, now=0)
    assert r.hung_for(50, start_grace=60) < 0, "still starting"
    r.update(True, now=55)
    r.update(False, now=100)
    assert r.hung_for(130, start_grace=60) == 30


def test_default_season_is_this_years_campaign_until_its_final_return_then_next_years():
    assert campaign_year(datetime(2026, 9, 20, tzinfo=timezone.utc)) == 2026
    assert campaign_year(datetime(2026, 10, 10, 8, tzinfo=timezone.utc)) == 2026
    assert campaign_year(datetime(2026, 11, 30, tzinfo=timezone.utc)) == 2027
    moved = schedule_for(2027)
    assert moved["year"] == 2027 and moved["title_zh"].startswith("2027年")
    assert moved["window"]["starts_on"].isoformat() == "2027-09-01"
    assert [p["due_at"] for p in moved["periods"]][-1] == "2027-10-10T17:00:00+08:00"
    assert moved["milestones"]["activities"] == [100, 500, 1000, 2000]
