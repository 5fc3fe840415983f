"""Follows validation's verdicts so `GET /v1/submissions/{id}` shows each report's state and issues."""
from __future__ import annotations

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from services.submission import store
from shared import topics
from shared.epoch import BrokerEpoch
from shared.inbox import Delivery, Inbox
from shared.settings import CommonSettings

GROUP = "submission"
_STATES = {"accepted", "accepted_with_warnings", "rejected"}


def state_of(value: bytes) -> tuple[str, str, str, list]:
    """(submission id, source event id, verdict, issues) of one ReportValidated record; raises on
    anything else (the inbox dead-letters it). Read with orjson, not the full contract: this follower
    needs four fields, at 10,000 per second."""
    event = orjson.loads(value)
    submission_id, event_id, verdict = event["submission_id"], event["source_event_id"], event["verdict"]
    issues = event.get("issues", [])
    if not (isinstance(submission_id, str) and isinstance(event_id, str) and verdict in _STATES and isinstance(issues, list)):
        raise ValueError(f"not a verdict: {value[:200]!r}")
    return submission_id, event_id, verdict, issues


async def apply(conn: asyncpg.Connection, deliveries: list[Delivery]) -> None:
    await store.apply_verdicts(conn, [d.event for d in deliveries])


def inbox(settings: CommonSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, epoch: BrokerEpoch) -> Inbox:
    return Inbox(
        GROUP, settings, pool, producer, epoch, [topics.REPORTS_VALIDATED], apply,
        dead_letters=topics.DEAD_LETTERS["submission"], decoders={topics.REPORTS_VALIDATED.name: state_of},
        # A unit polls its submission's state; 100 ms more is not felt, 10 ms polling when idle is.
        consumer_options={"fetch_max_wait_ms": 100},
    )
