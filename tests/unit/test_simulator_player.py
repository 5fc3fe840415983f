"""The player's bookkeeping: its view of the campaign clock, and what counts as a problem in a run."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from deploy.simulator.plan import RETURN_MARGIN, Action
from deploy.simulator.player import CampaignTime, PlayResult, Sent

T0 = datetime(2022, 9, 1, 8, tzinfo=timezone(timedelta(hours=8)))


def test_campaign_time_follows_the_speed():
    clock = CampaignTime(T0, speed=3600)
    assert abs(clock.real_seconds_until(T0 + timedelta(hours=2)) - 2) < 0.05
    assert clock.now() >= T0


def test_a_wrong_answer_or_a_return_sent_too_late_is_a_problem_and_a_refused_invalid_request_is_not():
    ret = Action(T0, "pudong", "return", period_id="W1", idempotency_key="k1", margin=RETURN_MARGIN)
    bad = Action(T0, "pudong", "bad_request", ({},), idempotency_key="k2", valid=False, expect_http=(400, 422))
    played = PlayResult(sent=[
        Sent(ret, 202, "s1", T0 + RETURN_MARGIN + timedelta(minutes=1)),
        Sent(bad, 422, None, T0),
    ])
    problems = played.problems()
    assert len(problems) == 1 and "fell behind" in problems[0]
    assert played.http_rejected == {"k2"}
    played.sent.append(Sent(ret, 500, None, T0, "boom"))
    assert any("HTTP 500" in p for p in played.problems())
