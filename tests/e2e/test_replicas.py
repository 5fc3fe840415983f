"""Two replicas of every service as processes: mixed load through both submission replicas while
one replica of each service is SIGKILLed, and then while the broker restarts empty. Every report
ends in a verdict, both aggregation replicas serve the exact totals (also on their streams), and
every rejection is alerted exactly once."""
from __future__ import annotations

import asyncio
import signal

import httpx

from deploy.stack import SERVICES, instance_name
from tests.e2e.test_aggregation_restart import UNITS, assert_exact, sse_frames
from tests.e2e.test_broker_restart import Posters, _fetchval, every_report_judged, kill_and_restart_broker
from tests.helpers import issue_token, wait_until


def test_two_replicas_of_everything_survive_a_replica_kill_and_a_broker_restart(make_stack, broker, database_url):
    stack = make_stack(replicas=2, timeout=150)
    tokens = {u: issue_token(database_url, u) for u in UNITS}
    office = issue_token(database_url, "office", "office")
    auth = {"Authorization": f"Bearer {office}"}
    aggs = [httpx.Client(base_url=stack.url(instance_name("aggregation", r)), timeout=10, headers=auth) for r in (0, 1)]

    urls = [stack.url(instance_name("submission", r)) for r in (0, 1)]
    with Posters(urls, tokens, reject_rate=0.2) as posters:
        wait_until(lambda: posters.accepted > 500, timeout=120, what="load under way")
        for service in SERVICES:  # the second replica of each, mid-load
            stack.stop_service(instance_name(service, 1), signal.SIGKILL)
        killed = posters.accepted
        wait_until(lambda: posters.accepted > killed + 300, timeout=120, what="load with one replica each")
        for service in SERVICES:
            stack.start_service(instance_name(service, 1))
        stack.wait_ready(timeout=120)
        kill_and_restart_broker(broker, posters)
        restarted = posters.accepted
        wait_until(lambda: posters.accepted > restarted + 300, timeout=120, what="load after the broker restart")
    assert posters.failures == [] and posters.rejects > 0

    every_report_judged(database_url, posters.accepted)
    for agg in aggs:
        assert_exact(agg, posters.campaign, timeout=120)
        with agg.stream("GET", "/v1/stream", timeout=httpx.Timeout(10, read=30)) as response:
            event, snapshot = next(sse_frames(response))
            assert event == "snapshot" and snapshot["totals"] == posters.campaign.expected()["totals"]

    rejected = asyncio.run(_fetchval(database_url, "SELECT count(*) FROM verdicts_read WHERE verdict = 'rejected'"))
    assert rejected >= posters.rejects

    def rejection_alerts(replica: int) -> list[str]:
        url = stack.url(instance_name("notification", replica))
        answer = httpx.get(f"{url}/v1/alerts", params={"kind": "rejection", "limit": 1000}, headers=auth, timeout=10)
        return [a["id"] for a in answer.json()["alerts"]]

    stored = asyncio.run(_fetchval(database_url, "SELECT count(*) FROM alerts WHERE kind = 'rejection'"))
    wait_until(lambda: len(rejection_alerts(0)) == rejected, timeout=60,
               what=f"one alert per rejection ({rejected} rejected, {stored} alerts stored)")
    for replica in (0, 1):
        ids = rejection_alerts(replica)
        assert len(ids) == len(set(ids)) == rejected
    for agg in aggs:
        agg.close()
