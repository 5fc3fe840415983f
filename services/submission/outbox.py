"""The outbox relay: publishes rows written with each submission to Kafka, in order, at least once."""
from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, batch_size: int = 2000, poll_s: float = 0.2):
        self.pool = pool
        self.producer = producer
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.wakeup = asyncio.Event()
        self.published = 0

    def notify(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.publish_batch()
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                log.warning("outbox relay: broker unavailable (%s); will retry", exc)
                await asyncio.sleep(1.0)
                continue
            if sent < self.batch_size:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), self.poll_s)
                except asyncio.TimeoutError:
                    pass

    async def publish_batch(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, value FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            futures = [await self.producer.send(r["topic"], r["value"], key=r["key"]) for r in rows]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        self.published += len(rows)
        return len(rows)

    async def depth(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
