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
import uuid

import asyncpg
import httpx

from tests.e2e.test_aggregation_restart import UNITS, Campaign, assert_exact
from tests.helpers import issue_token, report, wait_until

class Posters:
    """Threads posting small batches without pause (new reports, corrections, withdrawals, repeats),
    spread over the submission replicas; a replica that is away is skipped like a client would.
    Now and then a report outside the campaign window, which validation rejects."""

    def __init__(self, urls: list[str], tokens: dict[str, str], threads: int = 6, reject_rate: float = 0.0):
        self.urls, self.tokens, self.reject_rate = urls, tokens, reject_rate
        self.lock = threading.Lock()
        self.campaign = Campaign(16)
        self.accepted = 0  # reports in requests answered 202
        self.rejects = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._post, args=(i,)) for i in range(threads)]

    def _send(self, clients: list[httpx.Client], turn: int, unit: str, reports: list[dict]) -> bool:
        # One key for every try: a request stored by a replica killed before it answered is not stored twice.
        headers = {"Authorization": f"Bearer {self.tokens[unit]}", "Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(40):
            client = clients[(turn + attempt) % len(clients)]
            try:
                answer = client.post("/v1/reports", json={"reports": reports}, headers=headers)
            except httpx.TransportError:
                time.sleep(0.05)  # that replica is away: the next one
                continue
            if answer.status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "0.2")))  # what a real client does
                continue
            if answer.status_code != 202:
                self.failures.append(f"{answer.status_code} {answer.text}")
                return False
            return True
        self.failures.append("no replica accepted the request")
        return False

    def _post(self, seed: int) -> None:
        rng = random.Random(seed)
        clients = [httpx.Client(base_url=url, timeout=30) for url in self.urls]
        try:
            turn = 0
            while not self.stop.is_set():
                with self.lock:
                    batches = self.campaign.batch(rng.randint(1, 8))
                for unit, reports in batches.items():
                    turn += 1
                    if not self._send(clients, turn, unit, reports):
                        return
                    with self.lock:
                        self.accepted += len(reports)
                if rng.random() < self.reject_rate:
                    unit = rng.choice(list(self.tokens))
                    late = report(f"late-{seed}-{turn}", started_on="2022-08-01")
                    if not self._send(clients, turn, unit, [late]):
                        return
                    with self.lock:
                        self.accepted += 1
                        self.rejects += 1
                time.sleep(0.02)
        finally:
            for client in clients:
                client.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def kill_and_restart_broker(broker, posters: Posters) -> None:
    """SIGKILL the broker under load, keep accepting while it is away, start it empty."""
    broker.proc.send_signal(signal.SIGKILL)
    broker.proc.wait()
    killed = posters.accepted
    wait_until(lambda: posters.accepted > killed + 100, timeout=60, what="reports accepted while the broker is down")
    broker.start()  # empty: every topic, record and committed offset is gone


def every_report_judged(database_url: str, accepted: int) -> None:
    def pending() -> int:
        return asyncio.run(_fetchval(database_url, "SELECT count(*) FROM submission_reports WHERE state = 'pending'"))

    wait_until(lambda: pending() == 0, timeout=120, what="every accepted report judged")
    assert asyncio.run(_fetchval(database_url, "SELECT count(*) FROM submission_reports")) == accepted


def test_a_broker_sigkill_and_empty_restart_under_load_loses_no_report(make_stack, broker, database_url):
    stack = make_stack()
    tokens = {u: issue_token(database_url, u) for u in UNITS}
    office = issue_token(database_url, "office", "office")
    agg = httpx.Client(base_url=stack.url("aggregation"), timeout=10, headers={"Authorization": f"Bearer {office}"})

    with Posters([stack.url("submission")], tokens) as posters:
        wait_until(lambda: posters.accepted > 800, timeout=120, what="load under way")
        kill_and_restart_broker(broker, posters)
        restarted = posters.accepted
        wait_until(lambda: posters.accepted > restarted + 500, timeout=120, what="load after the restart")
    assert posters.failures == []
    every_report_judged(database_url, posters.accepted)
    assert_exact(agg, posters.campaign, timeout=120)
    agg.close()


async def _fetchval(url: str, sql: str):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
