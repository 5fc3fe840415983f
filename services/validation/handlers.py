"""Turns a batch of submitted-report records into verdicts, once each, and dead letters."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from services.validation import store
from services.validation.rules import RuleContext
from services.validation.verdicts import judge
from shared import topics
from shared.events import SCHEMA_VERSION, DeadLettered, ReportSubmitted, ReportValidated, decode, encode, new_ids
from shared.kafka import send_many

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class Outcome:
    to_send: list[ReportValidated] = field(default_factory=list)  # new verdicts and stored ones not yet sent
    wire: list[bytes] = field(default_factory=list)  # to_send as stored: encoded once, published as is
    decided: list[ReportValidated] = field(default_factory=list)  # decided in this batch (for metrics)
    dead_letters: list[DeadLettered] = field(default_factory=list)
    unsent_batch: int | None = None  # the verdicts_unsent row of to_send, deleted on the broker's acknowledgement
    resent: list[str] = field(default_factory=list)  # stored verdicts sent again (they leave older unsent rows)


def dead_letter(record: Record, reason: str) -> DeadLettered:
    return DeadLettered(
        source_topic=record.topic, partition=record.partition, offset=record.offset, reason=reason[:2000],
        raw=(record.value or b"").decode("utf-8", "replace")[:100_000], dead_at=time.time(),
    )


def decode_records(records: list[Record]) -> tuple[list[tuple[Record, ReportSubmitted]], list[DeadLettered]]:
    """Decode what can be decoded; everything else becomes a dead letter with the reason."""
    decoded, dead = [], []
    for record in records:
        try:
            event = decode(ReportSubmitted, record.value or b"")
        except (ValidationError, ValueError) as exc:
            dead.append(dead_letter(record, f"undecodable ReportSubmitted: {exc}"))
            continue
        if event.schema_version > SCHEMA_VERSION:
            dead.append(dead_letter(record, f"schema_version {event.schema_version} is newer than {SCHEMA_VERSION}"))
            continue
        decoded.append((record, event))
    return decoded, dead


async def process(pool: asyncpg.Pool, ctx: RuleContext, records: list[Record]) -> Outcome:
    """`decide` in a transaction of its own (the inbox calls `decide` inside its transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        return await decide(conn, ctx, records)


async def decide(conn: asyncpg.Connection, ctx: RuleContext, records: list[Record]) -> Outcome:
    """Judge a batch against stored history (call inside a transaction): a redelivered event finds
    its verdict stored and gets it back unchanged; only newly accepted verdicts write history.
    No lock between batches: history, titles and statistics are per unit, and a unit's reports
    share one partition (keyed by unit), which one consumer of the group holds at a time."""
    decoded, dead = decode_records(records)
    outcome = Outcome()
    stored: dict[str, tuple[bytes, bool]] = {}
    decided: dict[str, ReportValidated] = {}
    fresh_wire: dict[str, bytes] = {}
    if decoded:
        stored = await store.stored_verdicts(conn, [e.event_id for _, e in decoded])
        fresh: dict[str, tuple[Record, ReportSubmitted]] = {}
        for record, event in decoded:
            if event.event_id not in stored:
                fresh.setdefault(event.event_id, (record, event))
        history = await store.load_history(conn, [e for _, e in fresh.values()])
        for (record, event), event_id in zip(fresh.values(), new_ids(len(fresh))):
            try:
                decided[event.event_id] = judge(ctx, history, event, event_id)
            except Exception as exc:  # a rule that trips over odd input must not stop the stream
                log.exception("rule failure on %s/%s@%s", record.topic, record.partition, record.offset)
                dead.append(dead_letter(record, f"validation failed: {exc!r}"))
        fresh_wire = {event_id: encode(v) for event_id, v in decided.items()}
    outcome.dead_letters = await store.save_dead_letters(conn, dead)
    outcome.decided = list(decided.values())
    sent: set[str] = set()
    for _, event in decoded:
        if event.event_id in sent:
            continue
        sent.add(event.event_id)
        if event.event_id in decided:
            outcome.to_send.append(decided[event.event_id])
            outcome.wire.append(fresh_wire[event.event_id])
        elif event.event_id in stored and stored[event.event_id][1]:
            # Stored but never acknowledged by the broker (a crash, a reset): send what was decided then.
            outcome.to_send.append(decode(ReportValidated, stored[event.event_id][0]))
            outcome.wire.append(stored[event.event_id][0])
            outcome.resent.append(event.event_id)
    if decoded:
        outcome.unsent_batch = await store.save_decisions(
            conn, outcome.decided, list(fresh_wire.values()), history, [v.source_event_id for v in outcome.to_send]
        )
    return outcome


async def mark_emitted(pool: asyncpg.Pool, outcome: Outcome) -> None:
    """The broker acknowledged the batch's verdicts and dead letters: redelivery will not resend them."""
    await store.acknowledged(pool, outcome.unsent_batch, outcome.resent)
    await store.mark_dead_letters_emitted(pool, [d.event_id for d in outcome.dead_letters])


async def republish(pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
    """After a broker reset (Tansu forgets everything), send every stored verdict and dead letter
    again, in the order decided."""
    await store.forget_emitted(pool)
    sent = await publish_unsent(pool, producer)
    log.info("validation: re-published %d stored verdicts and dead letters after a broker reset", sent)
    return sent


async def publish_unsent(pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
    """Send the stored verdicts and dead letters the broker has not acknowledged, in the order
    decided; each batch counts as emitted once the broker acknowledged it."""
    sent = 0
    async for batch, upto, keyed in store.unsent_verdicts(pool):
        await send_verdicts(producer, [(unit_id, event, _rejected(event)) for unit_id, event in keyed])
        if upto is None:
            await store.acknowledged(pool, batch, [])
        else:
            await store.range_sent_up_to(pool, batch, upto)
        sent += len(keyed)
    async for page in store.unsent_dead_letters(pool):
        await _send_raw(producer, topics.VALIDATION_DEAD_LETTERS, [(source, event) for _, source, event in page])
        await store.mark_dead_letters_emitted(pool, [event_id for event_id, _, _ in page])
        sent += len(page)
    return sent


async def send_verdicts(producer: AIOKafkaProducer, verdicts: list[tuple[str, bytes, bool]]) -> None:
    """Publish (unit_id, event as stored, rejected?) verdicts: every one to the verdicts topic, and
    the rejections also to their own (what notification reads)."""
    await asyncio.gather(
        _send_raw(producer, topics.REPORTS_VALIDATED, [(unit_id, event) for unit_id, event, _ in verdicts]),
        _send_raw(producer, topics.REPORTS_REJECTED, [(unit_id, event) for unit_id, event, rejected in verdicts if rejected]),
    )


def _rejected(stored: bytes) -> bool:
    return orjson.loads(stored)["verdict"] == "rejected"


async def _send_raw(producer: AIOKafkaProducer, spec: topics.TopicSpec, keyed: list[tuple[str, bytes]]) -> None:
    # The stored bytes are the events exactly as first published: no decode and re-encode.
    if keyed:
        await send_many(producer, spec.name, ((key.encode(), event) for key, event in keyed))
