"""Writes a submission, its reports and their outbox rows in one transaction."""
from __future__ import annotations

import asyncpg

from shared import topics
from shared.events import Contract, ReportSubmitted, ReturnFiled, encode
from shared.kafka import record_key


def _outbox_row(spec: topics.TopicSpec, event: Contract) -> tuple[str, bytes | None, bytes]:
    return spec.name, record_key(spec, event), encode(event)


async def save_reports(conn: asyncpg.Connection, submission_id: str, unit_id: str, events: list[ReportSubmitted]) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO submissions (submission_id, unit_id, kind) VALUES ($1, $2, 'reports')", submission_id, unit_id
        )
        await conn.copy_records_to_table(
            "submission_reports",
            columns=["submission_id", "position", "report_id", "version", "event_id"],
            records=[(submission_id, i, e.report.report_id, e.report.version, e.event_id) for i, e in enumerate(events)],
        )
        await conn.copy_records_to_table(
            "outbox", columns=["topic", "key", "value"], records=[_outbox_row(topics.REPORTS_SUBMITTED, e) for e in events]
        )


async def save_return(conn: asyncpg.Connection, submission_id: str, event: ReturnFiled) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO submissions (submission_id, unit_id, kind) VALUES ($1, $2, 'return')", submission_id, event.unit_id
        )
        await conn.copy_records_to_table(
            "outbox", columns=["topic", "key", "value"], records=[_outbox_row(topics.RETURNS_FILED, event)]
        )


async def load_submission(pool: asyncpg.Pool, submission_id: str) -> dict | None:
    head = await pool.fetchrow("SELECT submission_id, unit_id, kind FROM submissions WHERE submission_id = $1", submission_id)
    if head is None:
        return None
    rows = await pool.fetch(
        "SELECT report_id, version, state, issues FROM submission_reports WHERE submission_id = $1 ORDER BY position",
        submission_id,
    )
    return {
        "submission_id": submission_id,
        "unit_id": head["unit_id"],
        "reports": [dict(r) for r in rows],
    }
