"""The validation service in-process against a real Tansu broker and PostgreSQL: the rule table,
redelivery, poison records, metrics, the replay after a broker reset and the verdicts a killed
process left unpublished."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from services.validation import handlers
from services.validation.app import MIGRATIONS, ValidationSettings, create_app
from services.validation.catalogue import load_catalogue
from services.validation.rules import RuleContext
from shared import db, kafka, topics
from shared.events import DeadLettered, decode, encode
from tests.helpers import bootstrap_of, eventually, report
from tests.unit.test_validation_cases import CASES, submitted, unit_of

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def running(broker, database_url):
    settings = ValidationSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap_of(broker), DATABASE_URL=database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        producer = kafka.new_producer(settings)
        await producer.start()
        try:
            yield app, settings, producer
        finally:
            await producer.stop()


class Collector:
    """Reads a topic from the beginning in the background, decoding each record."""

    def __init__(self, settings, spec):
        self.consumer = kafka.new_consumer(settings, spec, group_id=None)
        self.spec, self.seen = spec, []

    async def __aenter__(self):
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self):
        async for record in self.consumer:
            self.seen.append(decode(self.spec.value_type, record.value))

    async def wait_for(self, probe, timeout: float = 60, what: str = "records"):
        deadline = time.monotonic() + timeout
        while not (found := probe(self.seen)):
            assert time.monotonic() < deadline, f"{what} not seen within {timeout} s; seen {len(self.seen)}"
            await asyncio.sleep(0.05)
        return found

    async def __aexit__(self, *exc):
        self.task.cancel()
        await self.consumer.stop()


async def _send(producer, events):
    futures = [await kafka.publish(producer, topics.REPORTS_SUBMITTED, e) for e in events]
    await asyncio.gather(*futures)


def _metric(text: str, name: str, **labels) -> float:
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(wanted + " "))


async def test_rule_table_through_the_broker_once_each(broker, database_url):
    async with running(broker, database_url) as (app, settings, producer):
        before_metrics = (await _get(app, "/metrics")).text
        events, cases = [], {}
        for index, case in enumerate(CASES):
            unit_id = unit_of(index, case)
            events += [submitted(unit_id, body) for body in case.before]
            events.append(submitted(unit_id, case.body))
            cases[events[-1].event_id] = case
        async with Collector(settings, topics.REPORTS_VALIDATED) as verdicts, Collector(settings, topics.REPORTS_REJECTED) as rejections:
            await _send(producer, events)
            await verdicts.wait_for(lambda seen: {v.source_event_id for v in seen} >= set(cases), what="every verdict")
            got = {v.source_event_id: v for v in verdicts.seen}
            outcomes = {cases[i].name: (got[i].verdict, sorted(x.code for x in got[i].issues)) for i in cases}
            assert outcomes == {c.name: (c.verdict, sorted(c.codes)) for c in cases.values()}
            # The rejections, and only they, also go to their own topic, as the same events.
            rejected = {i for i, v in got.items() if v.verdict == "rejected"}
            assert rejected
            await rejections.wait_for(lambda seen: {v.source_event_id for v in seen} >= rejected, what="every rejection")
            assert sorted(rejections.seen, key=lambda v: v.event_id) == sorted((got[i] for i in rejected), key=lambda v: v.event_id)

            # Redelivery of every event: the same verdicts stay stored, none is published twice.
            sentinel = submitted("pudong", report("sentinel"))
            await _send(producer, events + [sentinel])
            await verdicts.wait_for(lambda seen: any(v.source_event_id == sentinel.event_id for v in seen))
            counts = Counter(v.source_event_id for v in verdicts.seen)
            assert max(counts.values()) == 1 and len(counts) == len(events) + 1

        conn = await asyncpg.connect(database_url)
        try:
            stored = {r["source_event_id"]: r for r in await conn.fetch("SELECT * FROM verdicts_read")}
            # Every batch acknowledged by the broker is no longer waiting to be sent.
            await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM verdicts_unsent"), what="all acknowledged")
        finally:
            await conn.close()
        assert len(stored) == len(events) + 1
        assert all(stored[i]["verdict"] == got[i].verdict for i in cases)

        text = (await _get(app, "/metrics")).text
        for name, labels, grew_by in [
            ("qm_validation_rule_hits_total", {"code": "duplicate.activity", "severity": "warning"}, 1),
            ("qm_validation_rule_hits_total", {"code": "metric.out_of_range", "severity": "error"}, 2),
            ("qm_validation_verdicts_total", {"verdict": "rejected"}, sum(c.verdict == "rejected" for c in CASES)),
        ]:
            assert _metric(text, name, **labels) - _metric(before_metrics, name, **labels) >= grew_by, name
        assert _metric(text, "qm_validation_processing_seconds_count") > 0


async def test_poison_records_are_dead_lettered_and_the_stream_goes_on(broker, database_url):
    async with running(broker, database_url) as (app, settings, producer):
        garbage, wrong_shape = b"\x00\xff not json at all", b'{"event_id": "x", "report": {"title": 5}}'
        for value in (garbage, wrong_shape):
            await (await producer.send(topics.REPORTS_SUBMITTED.name, value, key=b"pudong"))
        valid = submitted("pudong", report("after-poison"))
        await _send(producer, [valid])
        async with Collector(settings, topics.VALIDATION_DEAD_LETTERS) as dead, Collector(
            settings, topics.REPORTS_VALIDATED
        ) as verdicts:
            found = await verdicts.wait_for(lambda seen: [v for v in seen if v.source_event_id == valid.event_id])
            assert found[0].verdict == "accepted"
            letters: list[DeadLettered] = await dead.wait_for(lambda seen: len(seen) >= 2 and seen)
        assert sorted(d.raw for d in letters) == sorted(v.decode("utf-8", "replace") for v in (garbage, wrong_shape))
        assert all(d.source_topic == topics.REPORTS_SUBMITTED.name and "undecodable" in d.reason for d in letters)
        assert "report" in next(d.reason for d in letters if d.raw.startswith("{"))
        assert _metric((await _get(app, "/metrics")).text, "qm_validation_dead_letters_total") >= 2


async def test_verdicts_and_dead_letters_are_published_again_after_the_broker_forgets(broker, database_url):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker to restart")
    async with running(broker, database_url) as (app, settings, producer):
        event = submitted("pudong", report("survives-reset"))
        await (await producer.send(topics.REPORTS_SUBMITTED.name, b"poison", key=b"pudong"))
        await _send(producer, [event])
        async with Collector(settings, topics.REPORTS_VALIDATED) as verdicts, Collector(
            settings, topics.VALIDATION_DEAD_LETTERS
        ) as dead:
            (verdict,) = await verdicts.wait_for(lambda seen: seen)
            (letter,) = await dead.wait_for(lambda seen: seen)
        broker.stop()
        broker.start()  # Tansu is memory-only: topics and records are gone
        async with Collector(settings, topics.REPORTS_VALIDATED) as verdicts, Collector(
            settings, topics.VALIDATION_DEAD_LETTERS
        ) as dead:
            assert await verdicts.wait_for(lambda seen: seen, what="the replayed verdict") == [verdict]
            assert await dead.wait_for(lambda seen: seen, what="the replayed dead letter") == [letter]
        conn = await asyncpg.connect(database_url)
        try:
            await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM verdicts_unsent"), what="replay acknowledged")
            await eventually(lambda: conn.fetchval("SELECT bool_and(emitted) FROM dead_letters"), what="dead letters acknowledged")
        finally:
            await conn.close()


async def _get(app, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        return await client.get(path)


async def test_a_verdict_stored_but_never_published_is_sent_when_validation_starts(broker, database_url):
    """A process killed between its commit and its publish: the report is tracked as handled and never
    comes again, so the next start sends what was stored but never acknowledged by the broker."""
    settings = ValidationSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap_of(broker), DATABASE_URL=database_url)
    pool = await db.create_pool(database_url)
    try:
        await db.migrate(pool, "validation", MIGRATIONS)
        ctx = RuleContext(catalogue=load_catalogue(None), campaign=settings.campaign())
        stranded = submitted("pudong", report("stranded"))
        await handlers.process(pool, ctx, [handlers.Record(topics.REPORTS_SUBMITTED.name, 0, 0, encode(stranded))])
        assert await pool.fetchval("SELECT array_agg(e) FROM verdicts_unsent, unnest(event_ids) AS e") == [stranded.event_id]
        # The broker lives on (it is the process that died): no reset replay, which would send everything.
        await kafka.ensure_topics(settings, [topics.TopicSpec(topics.epoch_marker("validation"), DeadLettered, "-", "-")])
        async with running(broker, database_url) as (app, settings, producer):
            async with Collector(settings, topics.REPORTS_VALIDATED) as verdicts:
                (verdict,) = await verdicts.wait_for(lambda seen: seen, what="the stranded verdict")
            assert verdict.source_event_id == stranded.event_id and verdict.verdict == "accepted"
            await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM verdicts_unsent"), what="the stranded verdict acknowledged")
    finally:
        await pool.close()
