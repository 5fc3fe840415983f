"""Publishes stored transitions and alerts to Kafka once each (emitted flags), and replays them all
after a broker reset; followers are idempotent, so a replay or a retried flush is harmless.
Replicas flush side by side: each claims rows (FOR UPDATE SKIP LOCKED) until the broker has them.
Only the running campaign's rows: followers file what they read under their own running campaign."""
from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaProducer

from shared import topics
from shared.kafka import key_bytes, send_many


class Outbox:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, campaign: int):
        self.pool, self.producer, self.campaign = pool, producer, campaign
        self._lock = asyncio.Lock()  # within a process, one flush at a time

    async def flush(self) -> int:
        """Publish what is stored but not yet acknowledged by the broker; returns how many. Rows
        another replica is publishing are skipped (locked), not sent twice."""
        async with self._lock, self.pool.acquire() as conn, conn.transaction():
            transitions = await conn.fetch(
                """SELECT seq, unit_id, event FROM return_transitions WHERE NOT emitted AND campaign = $1
                   ORDER BY seq FOR UPDATE SKIP LOCKED""",
                self.campaign,
            )
            raised = await conn.fetch(
                """SELECT alert_id, unit_id, event FROM alerts WHERE NOT emitted AND campaign = $1
                   ORDER BY raised_at, alert_id FOR UPDATE SKIP LOCKED""",
                self.campaign,
            )
            await self._send(transitions, raised)
            await conn.execute("UPDATE return_transitions SET emitted = true WHERE seq = ANY($1::bigint[])", [r["seq"] for r in transitions])
            await conn.execute("UPDATE alerts SET emitted = true WHERE alert_id = ANY($1::text[])", [r["alert_id"] for r in raised])
            return len(transitions) + len(raised)

    async def replay(self) -> None:
        """Re-publish every return's current state and every alert of the campaign (the broker forgot them)."""
        async with self._lock:
            transitions = await self.pool.fetch(
                """SELECT DISTINCT ON (unit_id, period_id) seq, unit_id, event FROM return_transitions WHERE campaign = $1
                   ORDER BY unit_id, period_id, seq DESC""",
                self.campaign,
            )
            raised = await self.pool.fetch(
                "SELECT alert_id, unit_id, event FROM alerts WHERE campaign = $1 ORDER BY raised_at, alert_id", self.campaign
            )
            await self._send(sorted(transitions, key=lambda r: r["seq"]), raised)
        await self.flush()

    async def _send(self, transitions: list[asyncpg.Record], raised: list[asyncpg.Record]) -> None:
        """The stored bytes as they are, keyed as the registry keys each topic (its key is a column)."""
        await asyncio.gather(*(
            send_many(self.producer, spec.name, [(key_bytes(r[spec.key]), r["event"]) for r in rows])
            for spec, rows in ((topics.RETURNS_STATUS, transitions), (topics.ALERTS_RAISED, raised)) if rows
        ))
