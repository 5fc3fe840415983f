"""Input positions kept in PostgreSQL with the effects of what was read (a tracking record), so a
restart resumes exactly where the last committed transaction left off, without a group join."""
from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition


async def assign(consumer: AIOKafkaConsumer, pool: asyncpg.Pool, names: list[str]) -> None:
    """Assign every partition of the topics and seek to the stored positions (else the beginning)."""
    await consumer.topics()  # refreshes cluster metadata
    parts = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
    consumer.assign(parts)
    stored = {(r["topic"], r["partition"]): r["next_offset"] for r in await pool.fetch("SELECT * FROM consumer_offsets")}
    fresh = [tp for tp in parts if (tp.topic, tp.partition) not in stored]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    for tp in parts:
        if (tp.topic, tp.partition) in stored:
            consumer.seek(tp, stored[(tp.topic, tp.partition)])


async def save(conn: asyncpg.Connection, records) -> None:
    """Record the position after the last of `records` per partition (call in the effect's transaction)."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset + 1)
    await conn.executemany(
        """INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
           ON CONFLICT (topic, partition) DO UPDATE SET next_offset = $3""",
        [(t, p, o) for (t, p), o in last.items()],
    )
