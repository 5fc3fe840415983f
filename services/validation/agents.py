"""The validation stream: decode, decide, remember, publish; thin around handlers."""
from __future__ import annotations

import asyncio

import asyncpg
import faust
from aiokafka import AIOKafkaProducer

from services.validation import handlers
from shared import topics
from shared.kafka import publish
from shared.streaming import raw_topic


def register(app: faust.App, pool: asyncpg.Pool, producer: AIOKafkaProducer, batch: int = 1000) -> None:
    source = raw_topic(app, topics.REPORTS_SUBMITTED)

    @app.agent(source, name="validate-reports")
    async def validate_reports(stream):
        async for events in stream.take_events(batch, within=0.005):
            records = [
                handlers.Record(e.message.topic, e.message.partition, e.message.offset, e.value) for e in events
            ]
            outcome = handlers.decide(records)
            to_send = await handlers.remember(pool, outcome.verdicts)
            futures = [await publish(producer, topics.REPORTS_VALIDATED, v) for v in to_send]
            futures += [await publish(producer, topics.VALIDATION_DEAD_LETTERS, d) for d in outcome.dead_letters]
            # Offsets are committed after this batch returns: everything must be on the broker first.
            await asyncio.gather(*futures)
            await handlers.mark_emitted(pool, to_send)
