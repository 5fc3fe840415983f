"""A short accelerated campaign: September and the final deadline pass in about 40 s, then the live
system's totals, return statuses and alerts must be exactly what the simulator's plan implies.
24 units' systems play (the other 32 stay silent and miss every return): at this speed a campaign
hour is 36 ms, so fewer, sparser requests keep the player on time on a shared 2-core machine."""
from __future__ import annotations

import asyncio
import time


from deploy.simulator.command import simulate
from deploy.simulator.player import Endpoints

SPEED = 100_000  # campaign seconds per real second: a campaign day in 0.86 s
# The clock is anchored this far in the future so that 1 September starts once the stack is ready
# (every service must share one anchor, fixed before they start).
STARTUP_LEAD_S = 40  # a loaded 2-core machine took 30 s to start the stack


def test_accelerated_campaign_ends_exactly_as_planned(make_stack, database_url):
    env = {
        "QM_CLOCK_START": "2022-09-01T00:00:00+08:00",
        "QM_CLOCK_SPEED": str(SPEED),
        "QM_CLOCK_ANCHOR": str(time.time() + STARTUP_LEAD_S),
        # A campaign hour is 36 ms here: filings must reach the scheduler well within a return's margin.
        "QM_NOTIFICATION_FETCH_WAIT_MS": "10",
    }
    stack = make_stack(env=env)
    endpoints = Endpoints(stack.url("submission"), stack.url("aggregation"), stack.url("notification"))

    result = asyncio.run(
        simulate(database_url=database_url, endpoints=endpoints, seed=7, scale=0.2, active_units=24, show_progress=False, check_timeout=45)
    )

    assert not result.played.problems(), "\n".join(result.played.problems())
    assert result.expected.reports > 50 and sum(result.expected.rejections.values()) >= 3
    report = result.report
    # Every section checked and equal: totals, return statuses, alerts, rejections, milestones, states.
    assert report.ok, report.render()
