"""The aggregation service in-process against a real broker and PostgreSQL: exact totals by every
breakdown and every role under shuffled redelivery, across a service restart and a broker restart."""
from __future__ import annotations

import asyncio
import random
import time
from contextlib import asynccontextmanager

import httpx
from aiokafka import AIOKafkaConsumer

from services.aggregation.app import AggregationSettings, create_app
from services.aggregation.totals import unscale
from shared import auth, db, kafka, topics
from shared.events import TotalsChanged, decode
from tests.unit.test_aggregation_totals import ground_truth, history


def configure(monkeypatch, broker, database_url, tmp_path) -> AggregationSettings:
    monkeypatch.setenv("QM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("QM_AGGREGATION_PROGRESS_EVERY_S", "1")
    return AggregationSettings()


@asynccontextmanager
async def running(settings: AggregationSettings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aggregation") as client:
            await until(lambda: client.get("/readyz"), lambda r: r.status_code == 200, "ready", timeout=60)
            yield app, client


async def until(fetch, check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await fetch()
        if check(last):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout} s; last: {getattr(last, 'text', last)!r}")


async def tokens(database_url) -> dict[str, str]:
    pool = await db.create_pool(database_url)
    try:
        await auth.migrate(pool)
        return {
            "office": await auth.issue_token(pool, "office", "office"),
            "district": await auth.issue_token(pool, "pudong", "district"),
            "unit": await auth.issue_token(pool, "samr", "unit"),
        }
    finally:
        await pool.close()


async def send(settings, spec, events) -> None:
    producer = kafka.new_producer(settings)
    await producer.start()
    try:
        futures = [await kafka.publish(producer, spec, e) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def view_of(truth: dict, scope: str) -> dict[str, dict[str, dict]]:
    """Expected answers for one scope: {dimension: {group: {metric: value}}}, values unscaled."""
    out: dict = {}
    for (s, dim, group, metric), value in truth.items():
        if s == scope:
            out.setdefault(dim, {}).setdefault(group, {})[metric] = unscale(metric, value)
    return out


async def assert_exact(client, toks, truth) -> None:
    expectations = {"office": ("all", "all"), "district": ("district:pudong", "district:pudong"), "unit": ("all", "unit:samr")}
    for role, (headline_scope, scope) in expectations.items():
        headers = {"Authorization": f"Bearer {toks[role]}"}
        headline = view_of(truth, headline_scope).get("city", {}).get("all", {})
        answer = (await client.get("/v1/totals", headers=headers)).json()
        assert answer["totals"] == headline, role
        expected = view_of(truth, scope)
        for dim in ("unit", "district", "focus_area", "day"):
            groups = (await client.get("/v1/totals", params={"by": dim}, headers=headers)).json()["groups"]
            assert groups == expected.get(dim, {}), (role, dim)


async def city_totals(client, token):
    return (await client.get("/v1/totals", headers={"Authorization": f"Bearer {token}"})).json()


async def test_exact_totals_for_every_role_across_service_and_broker_restarts(monkeypatch, broker, database_url, tmp_path):
    settings = configure(monkeypatch, broker, database_url, tmp_path)
    toks = await tokens(database_url)
    rng = random.Random(55)
    verdicts = history(rng, 400)
    delivered = verdicts + rng.sample(verdicts, 200)
    rng.shuffle(delivered)
    first, second = delivered[:500], delivered[500:]
    truth_first, truth_all = ground_truth(first), ground_truth(delivered)
    headline = lambda truth: view_of(truth, "all")["city"]["all"]  # noqa: E731

    async with running(settings) as (app, client):
        assert (await client.get("/v1/totals")).status_code == 401
        assert (await client.get("/v1/totals", params={"token": "nope"})).json()["issues"][0]["code"] == "unauthorized"
        await send(settings, topics.REPORTS_VALIDATED, first)
        await until(lambda: city_totals(client, toks["office"]), lambda t: t["totals"] == headline(truth_first), "first half")
        await assert_exact(client, toks, truth_first)
        answer = await city_totals(client, toks["office"])
        assert answer["as_of"] and answer["lag_s"] is not None

    # A new process: the live totals are loaded from the shared cells in PostgreSQL.
    async with running(settings) as (app, client):
        await assert_exact(client, toks, truth_first)
        await send(settings, topics.REPORTS_VALIDATED, first[:100])  # a redelivery after restart
        # The broker forgets everything; the service must re-join, keep its totals and go on.
        broker.stop()
        broker.start()
        await send(settings, topics.REPORTS_VALIDATED, second)
        await until(lambda: city_totals(client, toks["office"]), lambda t: t["totals"] == headline(truth_all), "all", 60)
        await assert_exact(client, toks, truth_all)
        await until(lambda: client.get("/readyz"), lambda r: r.status_code == 200, "ready after broker restart", 30)

        # TotalsChanged on the new broker ends with the exact city totals (re-published after the reset).
        consumer = AIOKafkaConsumer(topics.TOTALS_CHANGED.name, bootstrap_servers=broker.bootstrap,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            published = []

            async def drained():
                batches = await consumer.getmany(timeout_ms=1000)
                records = [r for rs in batches.values() for r in rs]
                published.extend(records)
                return published and not records

            await until(drained, bool, "TotalsChanged drained")
            assert len({r.partition for r in published}) == 1  # one key: in order
            last = decode(TotalsChanged, max(published, key=lambda r: r.offset).value)
            assert {m: float(v) for m, v in last.totals.items()} == {m: float(v) for m, v in headline(truth_all).items()}
        finally:
            await consumer.stop()
        metrics = (await client.get("/metrics")).text
        for name in ("qm_aggregation_events_total", "qm_aggregation_batch_seconds", "qm_aggregation_lag_seconds",
                     "qm_aggregation_stream_clients"):
            assert name in metrics
