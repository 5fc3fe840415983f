"""The outbox relay: publishes rows written with each submission to Kafka, in order, at least once,
and re-queues what a memory-only broker forgot when it restarted."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.submission import metrics
from shared import db, topics
from shared.kafka import close_client, send_many

log = logging.getLogger(__name__)
MARKED_FOR_S = 1.0
RELAY_LOCK = 7312  # pg_advisory lock: the relay's turn


class BrokerNotMarked(Exception):
    """The broker is new (or unreachable) and its reset replay has not completed yet."""


class OutboxRelay:
    """Publishes unpublished outbox rows in id order; only to a broker whose reset replay is done."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        bootstrap_servers: str,
        epoch_marker: str,
        batch_size: int = 2000,
        poll_s: float = 0.2,
    ):
        self.pool = pool
        self.producer = producer
        self.bootstrap_servers = bootstrap_servers
        self.epoch_marker = epoch_marker
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.wakeup = asyncio.Event()
        # Held while a batch is in flight and while a reset re-queues: a batch that went to the new
        # broker before the replay would otherwise be re-queued and published twice.
        self.lock = asyncio.Lock()
        self.published = 0
        self._admin: AIOKafkaAdminClient | None = None
        self._depth_at = 0.0
        self._marked_at: float | None = None  # when the broker was last seen marked

    def notify(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.publish_batch()
            except BrokerNotMarked:
                await asyncio.sleep(0.2)
                continue
            except (KafkaError, OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if await self._database_at_fault(exc):
                    log.warning("outbox relay: database unavailable (%r); will retry", exc)
                    await asyncio.sleep(1.0)
                else:
                    log.warning("outbox relay: broker unavailable (%r); will retry", exc)
                    await self._close_admin()
                    await asyncio.sleep(0.5)
                continue
            await self._refresh_depth()
            if sent < self.batch_size:
                self.wakeup.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await self.wakeup.wait()

    async def _database_at_fault(self, exc: BaseException) -> bool:
        # A refused connection (OSError) or a timeout may come from either side: ask the database.
        if isinstance(exc, KafkaError):
            return False
        if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError)):
            return True
        return not await db.reachable(self.pool)

    async def publish_batch(self) -> int:
        """Publishes the oldest unpublished rows, up to `batch_size` events (at least one row); returns
        how many events."""
        async with self.lock, self.pool.acquire() as conn, conn.transaction():
            # One relay at a time across replicas (the others find the turn taken and wait for the
            # next poll), so the rows are claimed by one UPDATE without a lock per row. The turn is an
            # uncorrelated subquery: asked once, in the same round trip.
            rows = await conn.fetch(
                """UPDATE outbox SET published_at = now()
                   WHERE id IN (SELECT id FROM (SELECT id, sum(events) OVER (ORDER BY id) - events AS before
                                                FROM outbox WHERE published_at IS NULL AND (SELECT pg_try_advisory_xact_lock($2))
                                                ORDER BY id LIMIT $1) AS oldest
                                WHERE before < $1)
                   RETURNING id, topic, key, record_values, extract(epoch FROM created_at) AS created""",
                self.batch_size, RELAY_LOCK,
            )
            if not rows:
                return 0
            if not await self._broker_marked():
                raise BrokerNotMarked  # rolls the claim back
            rows.sort(key=lambda r: r["id"])  # RETURNING has no order
            by_topic: dict[str, list] = {}
            for r in rows:
                key = r["key"]
                by_topic.setdefault(r["topic"], []).extend((key, value) for value in r["record_values"])
            # Longer than the producer's request timeout: its own expiry fails the batches first,
            # so nothing is left queued inside the client to reach a later broker unseen.
            async with asyncio.timeout(30):
                await asyncio.gather(*(send_many(self.producer, topic, keyed) for topic, keyed in by_topic.items()))
        acked = time.time()
        for r in rows:  # a request's events share their commit and their acknowledgement
            metrics.PUBLISH_LATENCY.observe(max(0.0, acked - float(r["created"])))
        events = sum(len(keyed) for keyed in by_topic.values())
        metrics.PUBLISHED.inc(events)
        self.published += events
        return events

    async def requeue_after_reset(self) -> int:
        """on_reset of shared.epoch.watch_broker_resets: the broker forgot every record, so publish
        again every report whose verdict has not come back, and every return (few; consumers are
        idempotent). Published reports whose verdict arrived are downstream's to replay."""
        async with self.lock, self.pool.acquire() as conn, conn.transaction():
            # A request's events go again together if any of its reports is still pending.
            reports = await conn.fetchval(
                """WITH requeued AS (
                       UPDATE outbox o SET published_at = NULL
                       WHERE o.topic = $1 AND o.published_at IS NOT NULL AND EXISTS (
                           SELECT FROM submission_reports r WHERE r.submission_id = o.submission_id AND r.state = 'pending')
                       RETURNING events)
                   SELECT coalesce(sum(events), 0) FROM requeued""",
                topics.REPORTS_SUBMITTED.name,
            )
            returns = await conn.execute(
                "UPDATE outbox SET published_at = NULL WHERE topic = ANY($1::text[]) AND published_at IS NOT NULL",
                [topics.RETURNS_FILED.name, topics.REPORTS_SENT_BACK.name],
            )
            self._marked_at = None  # the broker is new: wait for its marker again
        count = reports + int(returns.split()[-1])
        metrics.REQUEUED.inc(count)
        log.info("outbox relay: broker reset; %d records re-queued", count)
        self.notify()
        return count

    async def depth(self) -> int:
        return await self.pool.fetchval("SELECT coalesce(sum(events), 0) FROM outbox WHERE published_at IS NULL")

    async def close(self) -> None:
        await self._close_admin()

    async def _refresh_depth(self) -> None:
        if time.monotonic() - self._depth_at >= 1.0:
            self._depth_at = time.monotonic()
            metrics.OUTBOX_DEPTH.set(await self.depth())

    async def _broker_marked(self) -> bool:
        # Asking the broker costs a round trip and Tansu's CPU on every batch (one per single-report
        # request, issue 13): a positive answer holds for a second, and any error forgets it. A broker
        # that restarted inside that second may get one batch before its replay; the replay publishes
        # pending reports again and consumers are idempotent, so that is a duplicate, never a loss.
        if self._marked_at is not None and time.monotonic() - self._marked_at < MARKED_FOR_S:
            return True
        self._marked_at = None
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000)
            try:
                async with asyncio.timeout(5):
                    await admin.start()
            except BaseException:
                await close_client(admin)
                raise
            self._admin = admin
        async with asyncio.timeout(5):
            marked = self.epoch_marker in await self._admin.list_topics()
        if marked:
            self._marked_at = time.monotonic()
        return marked

    async def _close_admin(self) -> None:
        self._marked_at = None
        admin, self._admin = self._admin, None
        if admin is not None:
            await close_client(admin)
