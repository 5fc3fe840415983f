"""Turns a batch of submitted-report records into verdicts, once each, and dead letters."""
from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from services.validation.rules import check_report, verdict_of
from shared.events import DeadLettered, ReportSubmitted, ReportValidated, decode, encode
from shared.refdata import units


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class Outcome:
    verdicts: list[ReportValidated]
    dead_letters: list[DeadLettered]


def validate(event: ReportSubmitted) -> ReportValidated:
    unit = units().get(event.unit_id)
    issues = check_report(event.unit_id, event.report)
    return ReportValidated(
        received_at=event.received_at,
        campaign_time=event.campaign_time,
        source_event_id=event.event_id,
        submission_id=event.submission_id,
        unit_id=event.unit_id,
        district_id=event.report.district_id or (unit.district_id if unit else None),
        report=event.report,
        verdict=verdict_of(issues),
        issues=tuple(issues),
    )


def decide(records: list[Record]) -> Outcome:
    outcome = Outcome([], [])
    for record in records:
        try:
            event = decode(ReportSubmitted, record.value)
        except (ValidationError, ValueError) as exc:
            outcome.dead_letters.append(
                DeadLettered(
                    source_topic=record.topic, partition=record.partition, offset=record.offset,
                    reason=str(exc)[:2000], raw=record.value.decode("utf-8", "replace")[:100_000], dead_at=time.time(),
                )
            )
            continue
        outcome.verdicts.append(validate(event))
    return outcome


async def remember(pool: asyncpg.Pool, verdicts: list[ReportValidated]) -> list[ReportValidated]:
    """Store new verdicts; return those not yet emitted (new ones, or ones a crash left unsent)."""
    if not verdicts:
        return []
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO verdicts (source_event_id, unit_id, report_id, version, verdict, issues, event)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source_event_id) DO NOTHING""",
            [
                (v.source_event_id, v.unit_id, v.report.report_id, v.report.version, v.verdict,
                 [i.model_dump() for i in v.issues], encode(v))
                for v in verdicts
            ],
        )
        rows = await conn.fetch(
            "SELECT event FROM verdicts WHERE source_event_id = ANY($1::text[]) AND NOT emitted",
            [v.source_event_id for v in verdicts],
        )
    # A redelivered event gets the verdict first decided for it, never a second one.
    pending = {v.source_event_id: v for v in (decode(ReportValidated, r["event"]) for r in rows)}
    return [pending[v.source_event_id] for v in verdicts if v.source_event_id in pending]


async def mark_emitted(pool: asyncpg.Pool, verdicts: list[ReportValidated]) -> None:
    await pool.execute(
        "UPDATE verdicts SET emitted = true WHERE source_event_id = ANY($1::text[])",
        [v.source_event_id for v in verdicts],
    )

