"""Expected returns in PostgreSQL: filings read, current states, transitions waiting to be published;
every row belongs to one campaign (its year), and every read stays in the running one."""
from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Callable

import asyncpg

from services.notification import alerts, delivery
from services.notification.deadlines import FILED, Key, ReturnState, Step
from shared.events import AlertRaised, ReturnFiled, ReturnStatusChanged, encode

_LOCK = 7302  # one evaluation at a time, even with two replicas


async def record_filings(conn: asyncpg.Connection, campaign: int, filings: list[ReturnFiled]) -> None:
    """The first filing per unit and period of the campaign counts; redelivered or repeated ones change nothing."""
    await conn.executemany(
        """INSERT INTO filings (campaign, unit_id, period_id, filed_at, event_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (campaign, unit_id, period_id) DO NOTHING""",
        [(campaign, f.unit_id, f.period_id, f.campaign_time, f.event_id) for f in filings],
    )


async def evaluate(
    pool: asyncpg.Pool,
    campaign: int,
    decide: Callable[[dict[Key, ReturnState], dict[Key, datetime]], Step],
    now: datetime,
    channels: tuple[str, ...],
) -> tuple[Step, list[AlertRaised]]:
    """Load the campaign's states and filings, let `decide` (the pure state machine) move them, and store the
    result, its transitions and its alerts in one transaction; returns the alerts raised now."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        states = {
            (r["unit_id"], r["period_id"]): ReturnState(
                r["unit_id"], r["period_id"], r["due_at"], r["status"], r["filed_at"], r["reminded"], r["escalated"]
            )
            for r in await conn.fetch("SELECT * FROM return_states WHERE campaign = $1", campaign)
        }
        filings = {
            (r["unit_id"], r["period_id"]): r["filed_at"]
            for r in await conn.fetch("SELECT * FROM filings WHERE campaign = $1", campaign)
        }
        step = decide(states, filings)
        await conn.executemany(
            """INSERT INTO return_states (unit_id, period_id, due_at, status, filed_at, reminded, escalated, campaign)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (campaign, unit_id, period_id) DO UPDATE SET due_at = $3, status = $4, filed_at = $5, reminded = $6, escalated = $7""",
            [(s.unit_id, s.period_id, s.due_at, s.status, s.filed_at, s.reminded, s.escalated, campaign) for s in step.states],
        )
        received_at = time.time()
        await conn.executemany(
            """INSERT INTO return_transitions (unit_id, period_id, status, event, campaign) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (campaign, unit_id, period_id, status) DO NOTHING""",
            [
                (t.unit_id, t.period_id, t.status, encode(ReturnStatusChanged(
                    received_at=received_at, campaign_time=now, unit_id=t.unit_id, period_id=t.period_id,
                    status=t.status, previous=t.previous, due_at=t.due_at, filed_at=t.filed_at,  # type: ignore[arg-type]
                )), campaign)
                for t in step.transitions
            ],
        )
        for t in step.transitions:
            if t.status in FILED:
                await delivery.cancel_for_return(conn, campaign, t.unit_id, t.period_id)
        fresh = await alerts.insert(conn, campaign, step.alerts, now, channels)
    return step, fresh


async def statuses(pool: asyncpg.Pool, campaign: int, period_id: str | None, visible: list[str] | None, tz: tzinfo) -> list[dict]:
    """The campaign's returns in the contract's view: an escalated return shows as `overdue` with `escalated: true`."""
    rows = await pool.fetch(
        """SELECT * FROM return_states
           WHERE campaign = $3 AND ($1::text IS NULL OR period_id = $1) AND ($2::text[] IS NULL OR unit_id = ANY($2))
           ORDER BY due_at, period_id, unit_id""",
        period_id, visible, campaign,
    )
    return [_status_view(r, tz) for r in rows]


def _status_view(r: asyncpg.Record, tz: tzinfo) -> dict:
    return {
        "unit_id": r["unit_id"], "period_id": r["period_id"],
        "status": "overdue" if r["status"] == "escalated" else r["status"],
        "due_at": r["due_at"].astimezone(tz).isoformat(),
        "filed_at": r["filed_at"].astimezone(tz).isoformat() if r["filed_at"] else None,
        "escalated": r["escalated"],
    }


async def overdue_count(pool: asyncpg.Pool, campaign: int) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM return_states WHERE campaign = $1 AND status IN ('overdue', 'escalated')", campaign
    )
