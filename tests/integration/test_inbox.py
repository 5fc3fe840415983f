"""shared.inbox against a real Tansu broker and PostgreSQL: tracking records, poison isolation to
a dead letter, and the broker restart handling every service relies on."""
from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared import db, inbox, kafka, topics
from shared.epoch import BrokerEpoch
from shared.events import DeadLettered, decode
from shared.settings import CommonSettings
from tests.helpers import bootstrap_of, eventually

pytestmark = pytest.mark.asyncio
SOURCE = topics.TopicSpec("qm.test.source.v1", DeadLettered, "source_topic", "test")
LETTERS = topics.TopicSpec("qm.test.dead-letters.v1", DeadLettered, "source_topic", "test")


class Harness:
    """An inbox whose handler stores each record's text in a table, and fails on 'poison'."""

    def __init__(self, broker, database_url, group: str = "test", concurrency: int = 1, stall_after_s: float = 30.0,
                 batch_size: int = 1000):
        self.settings = CommonSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap_of(broker), DATABASE_URL=database_url, QM_TOPIC_PARTITIONS=2)
        self.group, self.calls, self.concurrency, self.stall_after_s = group, 0, concurrency, stall_after_s
        self.batch_size = batch_size

    async def __aenter__(self):
        self.pool = await db.create_pool(self.settings.database_url)
        await inbox.migrate(self.pool)
        await self.pool.execute("CREATE TABLE IF NOT EXISTS seen (text text, partition int, at bigint)")
        await self.create_topics()
        self.producer = kafka.new_producer(self.settings)
        await self.producer.start()
        self.epoch = BrokerEpoch(self.settings)
        self.inbox = inbox.Inbox(
            self.group, self.settings, self.pool, self.producer, self.epoch, [SOURCE], self.handle,
            dead_letters=LETTERS, decoders={SOURCE.name: lambda raw: raw.decode()}, backoff_s=0.01, max_attempts=3,
            concurrency=self.concurrency, stall_after_s=self.stall_after_s, batch_size=self.batch_size,
        )
        self.tasks = [asyncio.create_task(self.epoch.watch(0.5)), asyncio.create_task(self.inbox.run())]
        return self

    async def create_topics(self):
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            existing = await admin.list_topics()
            await admin.create_topics([NewTopic(s.name, 2, 1) for s in (SOURCE, LETTERS) if s.name not in existing])
        finally:
            await admin.close()

    async def handle(self, conn: asyncpg.Connection, deliveries):
        self.calls += 1
        texts = [d.event for d in deliveries]
        await conn.executemany("INSERT INTO seen VALUES ($1, $2, $3)", [(d.event, d.partition, d.offset) for d in deliveries])
        if "poison" in texts:
            raise ValueError("this record always fails")

    async def send(self, *texts: str, key: bytes = b"k"):
        futures = [await self.producer.send(SOURCE.name, t.encode(), key=key) for t in texts]
        await asyncio.gather(*futures)

    async def seen(self) -> list[str]:
        return [r["text"] for r in await self.pool.fetch("SELECT text FROM seen ORDER BY partition, at")]

    async def __aexit__(self, *exc):
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.epoch.close()
        await self.producer.stop()
        await self.pool.close()


class SideBySide(Harness):
    """Each transaction waits (up to a second) for another to be under way at the same time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight, self.overlapped, self.partitions = 0, False, []
        self.arrived = asyncio.Event()

    async def handle(self, conn: asyncpg.Connection, deliveries):
        self.partitions.append({d.partition for d in deliveries})
        self.in_flight += 1
        if self.in_flight > 1:
            self.overlapped = True
            self.arrived.set()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.arrived.wait()
            await super().handle(conn, deliveries)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.arrived.clear()


async def test_partitions_are_handled_side_by_side_and_every_record_once(broker, database_url):
    async with SideBySide(broker, database_url, concurrency=2) as h:
        sent = []
        for attempt in range(5):  # sent while the group joins: the first fetch holds both partitions
            texts = [f"{attempt}-{p}-{i}" for p in (0, 1) for i in range(20)]
            await asyncio.gather(*[await h.producer.send(SOURCE.name, t.encode(), partition=int(t.split("-")[1])) for t in texts])
            sent += texts
            await eventually(lambda: h.pool.fetchval("SELECT count(*) = $1 FROM seen", len(sent)), what="every record handled")
            if h.overlapped:
                break
        assert h.overlapped, "two partitions' transactions were under way at once"
        assert all(len(p) == 1 for p in h.partitions), "a transaction holds one partition's records"
        assert sorted(await h.seen()) == sorted(sent)


async def test_a_backlog_in_every_partition_gives_every_group_a_batch(broker, database_url):
    """One getmany fills its batch from the partitions in the order their data came: in a backlog,
    one partition took every batch while the other groups had nothing to do."""
    h = SideBySide(broker, database_url, group="backlog", concurrency=2, batch_size=50)
    await h.create_topics()
    producer = kafka.new_producer(h.settings)
    await producer.start()
    try:  # the backlog is there before the group's first fetch
        sent = [f"{p}-{i}" for p in (0, 1) for i in range(400)]
        await asyncio.gather(*[await producer.send(SOURCE.name, t.encode(), partition=int(t.split("-")[0])) for t in sent])
    finally:
        await producer.stop()
    async with h:
        await eventually(lambda: h.pool.fetchval("SELECT count(*) = $1 FROM seen", len(sent)), what="the backlog handled")
        first = h.partitions[:8]  # 400 records a partition, 50 a batch: without shares, 8 batches of one partition
        assert all(sum(p in group for group in first) >= 3 for p in (0, 1)), first
        assert sorted(await h.seen()) == sorted(sent)


async def test_a_consumer_that_stops_fetching_while_records_wait_reports_itself_unready(broker, database_url):
    """aiokafka consumers have been seen to stop fetching without an error: readiness follows real
    progress, so the supervisor (or Kubernetes) restarts such a service."""
    async with Harness(broker, database_url, stall_after_s=2) as h:
        await h.send("a", "b")

        async def handled_and_ready(count: int) -> bool:
            return len(await h.seen()) == count and h.inbox.ready()

        await eventually(lambda: handled_and_ready(2), what="first records handled, ready")
        consumer = h.inbox.consumer
        consumer.pause(*consumer.assignment())  # fetching stops, as in that failure
        for text in ("c", "d", "e"):
            await h.send(text)  # a batch each: Tansu's end offset passes the handled position

        async def unready() -> bool:
            return not h.inbox.ready()

        await eventually(unready, what="a stalled consumer unready")
        assert h.inbox.stalled() and await h.seen() == ["a", "b"]
        consumer.resume(*consumer.assignment())
        await eventually(lambda: handled_and_ready(5), what="ready again once records are handled")


async def test_a_poison_record_is_isolated_and_dead_lettered_and_the_rest_flows_on(broker, database_url):
    async with Harness(broker, database_url) as h:
        before = _dead_letters_metric()
        texts = [f"r{i}" for i in range(40)]
        await h.send(*texts[:20], "poison", *texts[20:])
        await eventually(lambda: _has(h, set(texts)), what="every good record handled")
        rows = await h.pool.fetch("SELECT event, emitted FROM inbox_dead_letters WHERE consumer_group = 'test'")
        assert len(rows) == 1
        letter = decode(DeadLettered, rows[0]["event"])
        assert letter.raw == "poison" and "3 times" in letter.reason and letter.source_topic == SOURCE.name
        await eventually(lambda: h.pool.fetchval("SELECT bool_and(emitted) FROM inbox_dead_letters"), what="published")
        assert _dead_letters_metric() - before == 1
        # Handled once each: the poison's batch was split, and what rolled back was not counted.
        assert sorted(await h.seen()) == sorted(texts)
        tracked = await h.pool.fetchval("SELECT sum(next_offset) FROM inbox_tracking WHERE consumer_group = 'test'")
        assert tracked == 41


async def test_a_caught_up_consumer_never_reads_again_and_a_restarted_broker_is_read_from_its_start(broker, database_url):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker to restart")
    async with Harness(broker, database_url) as h:
        await h.send(*[f"a{i}" for i in range(300)])
        await eventually(lambda: _count(h, 300), what="first 300")
        await eventually(lambda: _caught_up(h), what="caught up")
        calls = h.calls
        await asyncio.sleep(3 * h.inbox.check_every_s)  # several restart checks while caught up
        assert h.calls == calls and await _total(h) == 300, "a caught-up consumer read its log again"
        first_epoch = h.epoch.current

        broker.stop()
        broker.start()  # memory-only: every topic, record and committed offset is gone
        await h.create_topics()
        await h.send(*[f"b{i}" for i in range(20)])
        await eventually(lambda: _has(h, {f"b{i}" for i in range(20)}), timeout=60, what="records of the new broker")
        assert h.epoch.current != first_epoch
        assert await _total(h) == 320


def _dead_letters_metric() -> float:
    return inbox.DEAD_LETTERS.labels("test", SOURCE.name)._value.get()


async def _has(h: Harness, texts: set[str]) -> bool:
    return texts <= set(await h.seen())


async def _count(h: Harness, n: int) -> bool:
    return await _total(h) >= n


async def _total(h: Harness) -> int:
    return await h.pool.fetchval("SELECT count(*) FROM seen")


async def _caught_up(h: Harness) -> bool:
    return h.inbox.caught_up.is_set()
