"""Turns a batch of submitted-report records into verdicts, once each, and dead letters."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import asyncpg
from pydantic import ValidationError

from services.validation import store
from services.validation.rules import RuleContext
from services.validation.verdicts import judge
from shared.events import SCHEMA_VERSION, DeadLettered, ReportSubmitted, ReportValidated, decode

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
    decided: list[ReportValidated] = field(default_factory=list)  # decided in this batch (for metrics)
    dead_letters: list[DeadLettered] = field(default_factory=list)


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
    """Judge a batch against stored history in one transaction: a redelivered event finds its verdict
    stored and gets it back unchanged; only newly accepted verdicts write history."""
    decoded, dead = decode_records(records)
    outcome = Outcome(dead_letters=dead)
    if not decoded:
        return outcome
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_batch(conn)
        stored = await store.stored_verdicts(conn, [e.event_id for _, e in decoded])
        fresh: dict[str, tuple[Record, ReportSubmitted]] = {}
        for record, event in decoded:
            if event.event_id not in stored:
                fresh.setdefault(event.event_id, (record, event))
        history = await store.load_history(conn, [e for _, e in fresh.values()])
        decided: dict[str, ReportValidated] = {}
        for record, event in fresh.values():
            try:
                decided[event.event_id] = judge(ctx, history, event)
            except Exception as exc:  # a rule that trips over odd input must not stop the stream
                log.exception("rule failure on %s/%s@%s", record.topic, record.partition, record.offset)
                outcome.dead_letters.append(dead_letter(record, f"validation failed: {exc!r}"))
        await store.save_verdicts(conn, list(decided.values()))
        await store.save_history(conn, history)
    outcome.decided = list(decided.values())
    sent: set[str] = set()
    for _, event in decoded:
        if event.event_id in sent:
            continue
        sent.add(event.event_id)
        if event.event_id in decided:
            outcome.to_send.append(decided[event.event_id])
        elif event.event_id in stored and not stored[event.event_id][1]:
            # Stored but never acknowledged by the broker (a crash, a reset): send what was decided then.
            outcome.to_send.append(decode(ReportValidated, stored[event.event_id][0]))
    return outcome


async def mark_emitted(pool: asyncpg.Pool, verdicts: list[ReportValidated]) -> None:
    await store.mark_emitted(pool, [v.source_event_id for v in verdicts])
