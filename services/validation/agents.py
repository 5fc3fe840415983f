"""The validation stream: decode, decide, remember, publish; thin around handlers."""
from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import faust
from aiokafka import AIOKafkaProducer

from services.validation import handlers, telemetry
from services.validation.rules import RuleContext
from shared import topics
from shared.kafka import publish
from shared.streaming import raw_topic

log = logging.getLogger(__name__)


def register(
    app: faust.App, pool: asyncpg.Pool, producer: AIOKafkaProducer, ctx: RuleContext,
    batch: int = 1000, within_s: float = 0.05,
) -> None:
    source = raw_topic(app, topics.REPORTS_SUBMITTED)

    async def handle(records: list[handlers.Record]) -> None:
        started = time.perf_counter()
        outcome = await handlers.process(pool, ctx, records)
        futures = [await publish(producer, topics.REPORTS_VALIDATED, v) for v in outcome.to_send]
        futures += [await publish(producer, topics.VALIDATION_DEAD_LETTERS, d) for d in outcome.dead_letters]
        # Offsets are committed after this batch returns: everything must be on the broker first.
        await asyncio.gather(*futures)
        await handlers.mark_emitted(pool, outcome)
        telemetry.observe(outcome, time.perf_counter() - started)

    @app.agent(source, name="validate-reports")
    async def validate_reports(stream):
        async for events in stream.take_events(batch, within=within_s):
            records = [
                handlers.Record(e.message.topic, e.message.partition, e.message.offset, e.value) for e in events
            ]
            await _until_done(handle, records)


async def _until_done(handle, records, max_pause: float = 5.0) -> None:
    # Bad input never raises here (it becomes a dead letter); what does is the database or broker
    # being away: wait and retry the same batch rather than let the agent die. Replays are harmless.
    pause = 0.1
    while True:
        try:
            await handle(records)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("validation batch failed; retrying in %.1f s", pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, max_pause)
