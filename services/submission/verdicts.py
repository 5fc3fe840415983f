"""Follows validation's verdicts so `GET /v1/submissions/{id}` shows each report's state and issues."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import orjson

from services.submission import store
from shared import kafka, topics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
GROUP_ID = "submission"
_STATES = {"accepted", "accepted_with_warnings", "rejected"}


def states_of(values: list[bytes]) -> list[tuple[str, str, str]]:
    """(source event id, verdict, issues as JSON) of each ReportValidated record; what cannot be
    read is skipped (validation dead-letters bad input; a bad verdict only leaves a state pending).
    Read with orjson, not the full contract: this follower needs three fields, at 10,000 per second."""
    out = []
    for value in values:
        try:
            event = orjson.loads(value)
            event_id, verdict, issues = event["source_event_id"], event["verdict"], event.get("issues", [])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(event_id, str) and verdict in _STATES and isinstance(issues, list):
            out.append((event_id, verdict, orjson.dumps(issues).decode()))
    return out


async def follow(settings: CommonSettings, pool: asyncpg.Pool) -> None:
    """Consume verdicts for ever; a consumer that fails (broker gone, reset) is replaced."""

    async def handle(records) -> None:
        await store.apply_verdicts(pool, states_of([r.value for r in records if r.value is not None]))

    while True:
        # A short session: Tansu's join takes about half of it, and a stop waits for a join under way.
        consumer = kafka.new_consumer(settings, topics.REPORTS_VALIDATED, group_id=GROUP_ID, session_timeout_ms=3000)
        try:
            await consumer.start()
            await kafka.consume_batches(consumer, handle)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure: log, start a new consumer; never stop following
            log.warning("verdict follower failed (%s); restarting", exc)
            await asyncio.sleep(1.0)
        finally:
            # Bounded: a broker that is gone must not hold up shutdown.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await consumer.stop()
