"""All services as processes while many units post without pause and the broker is SIGKILLed and
restarted empty (Tansu is memory-only): every request answered 202 ends in a verdict, and the
totals are exact. Every consumer is on the path: validation (reports), submission (verdicts),
aggregation (verdicts) and notification (verdicts)."""
from __future__ import annotations

import asyncio
import random
import signal
import threading
import time

import asyncpg
import httpx

from tests.e2e.test_aggregation_restart import UNITS, Campaign, assert_exact
from tests.helpers import issue_token, wait_until

class Posters:
    """Threads posting small batches without pause (new reports, corrections, withdrawals, repeats)."""

    def __init__(self, stack, tokens: dict[str, str], threads: int = 6):
        self.stack, self.tokens = stack, tokens
        self.lock = threading.Lock()
        self.campaign = Campaign(16)
        self.accepted = 0  # reports in requests answered 202
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._post, args=(i,)) for i in range(threads)]

    def _post(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.stack.url("submission"), timeout=30) as client:
            while not self.stop.is_set():
                with self.lock:
                    batches = self.campaign.batch(rng.randint(1, 8))
                for unit, reports in batches.items():
                    while (answer := client.post("/v1/reports", json={"reports": reports},
                                                 headers={"Authorization": f"Bearer {self.tokens[unit]}"})).status_code == 429:
                        time.sleep(float(answer.headers.get("Retry-After", "0.2")))  # what a real client does
                    if answer.status_code != 202:
                        self.failures.append(f"{answer.status_code} {answer.text}")
                        return
                    with self.lock:
                        self.accepted += len(reports)
                time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def test_a_broker_sigkill_and_empty_restart_under_load_loses_no_report(make_stack, broker, database_url):
    stack = make_stack()
    tokens = {u: issue_token(database_url, u) for u in UNITS}
    office = issue_token(database_url, "office", "office")
    agg = httpx.Client(base_url=stack.url("aggregation"), timeout=10, headers={"Authorization": f"Bearer {office}"})

    with Posters(stack, tokens) as posters:
        wait_until(lambda: posters.accepted > 800, timeout=120, what="load under way")
        broker.proc.send_signal(signal.SIGKILL)
        broker.proc.wait()
        killed = posters.accepted
        wait_until(lambda: posters.accepted > killed + 100, timeout=60, what="reports accepted while the broker is down")
        broker.start()  # empty: every topic, record and committed offset is gone
        restarted = posters.accepted
        wait_until(lambda: posters.accepted > restarted + 500, timeout=120, what="load after the restart")
    assert posters.failures == []

    def pending() -> int:
        return asyncio.run(_fetchval(database_url, "SELECT count(*) FROM submission_reports WHERE state = 'pending'"))

    wait_until(lambda: pending() == 0, timeout=120, what="every accepted report judged")
    stored = asyncio.run(_fetchval(database_url, "SELECT count(*) FROM submission_reports"))
    assert stored == posters.accepted
    assert_exact(agg, posters.campaign, timeout=120)
    agg.close()


async def _fetchval(url: str, sql: str):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
