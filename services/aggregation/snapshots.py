"""PostgreSQL for the circular: the current reports it is drafted from, and snapshots that pin them.

A snapshot copies the campaign's current, not withdrawn ledger rows in one transaction; the ledger
moves on with later corrections, the copy never does."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.aggregation.totals import Entry

_COLUMNS = "unit_id, report_id, version, district_id, focus_area, day, title, metrics, campaign_time"


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    campaign: int
    taken_at: datetime
    taken_by: str
    as_of: datetime | None
    previous_totals: dict[str, int] | None
    reports: int

    def summary(self) -> dict:
        base = f"/v1/report/circular/snapshots/{self.snapshot_id}"
        return {
            "snapshot_id": self.snapshot_id, "campaign": self.campaign, "taken_at": self.taken_at.isoformat(),
            "taken_by": self.taken_by, "as_of": self.as_of.isoformat() if self.as_of else None,
            "reports": self.reports, "url": base, "docx_url": f"{base}?format=docx", "md_url": f"{base}?format=md",
        }


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        unit_id=row["unit_id"], report_id=row["report_id"], version=row["version"], district_id=row["district_id"],
        focus_area=row["focus_area"], day=row["day"].isoformat(), title=row["title"], metrics=row["metrics"],
        withdrawn=False, campaign_time=row["campaign_time"].isoformat(),
    )


async def current_entries(conn: asyncpg.Connection | asyncpg.Pool, campaign: int) -> list[Entry]:
    """The campaign's current, not withdrawn reports, as the ledger holds them now."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM ledger WHERE campaign = $1 AND NOT withdrawn ORDER BY unit_id, report_id", campaign
    )
    return [_entry(r) for r in rows]


async def campaign_totals(conn: asyncpg.Connection | asyncpg.Pool, campaign: int) -> dict[str, int] | None:
    """A campaign's scaled totals per metric, or None when the ledger holds nothing of it."""
    rows = await conn.fetch(
        """SELECT m.key AS metric, sum(m.value::bigint)::bigint AS total
           FROM ledger l CROSS JOIN LATERAL jsonb_each_text(l.metrics) m
           WHERE l.campaign = $1 AND NOT l.withdrawn GROUP BY 1""",
        campaign,
    )
    totals = {r["metric"]: r["total"] for r in rows if r["total"]}
    return totals or None


async def take(pool: asyncpg.Pool, campaign: int, taken_by: str) -> Snapshot:
    """Pin the campaign's current reports (and the previous campaign's totals) under a new id."""
    snapshot_id = uuid.uuid4().hex
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        previous = await campaign_totals(conn, campaign - 1)
        await conn.execute(
            """INSERT INTO circular_snapshot (snapshot_id, campaign, taken_by, as_of, previous_totals)
               SELECT $1, $2, $3, (SELECT max(campaign_time) FROM ledger WHERE campaign = $2 AND NOT withdrawn), $4""",
            snapshot_id, campaign, taken_by, previous,
        )
        await conn.execute(
            f"""INSERT INTO circular_snapshot_report (snapshot_id, {_COLUMNS})
                SELECT $1, {_COLUMNS} FROM ledger WHERE campaign = $2 AND NOT withdrawn""",
            snapshot_id, campaign,
        )
    found = await find(pool, campaign, snapshot_id)
    assert found is not None
    return found


_SUMMARY = """SELECT s.*, (SELECT count(*) FROM circular_snapshot_report r WHERE r.snapshot_id = s.snapshot_id) AS reports
              FROM circular_snapshot s"""


def _snapshot(row: asyncpg.Record) -> Snapshot:
    return Snapshot(
        snapshot_id=row["snapshot_id"], campaign=row["campaign"], taken_at=row["taken_at"], taken_by=row["taken_by"],
        as_of=row["as_of"], previous_totals=row["previous_totals"], reports=row["reports"],
    )


async def find(pool: asyncpg.Pool, campaign: int, snapshot_id: str) -> Snapshot | None:
    row = await pool.fetchrow(f"{_SUMMARY} WHERE s.snapshot_id = $1 AND s.campaign = $2", snapshot_id, campaign)
    return _snapshot(row) if row else None


async def listing(pool: asyncpg.Pool, campaign: int) -> list[Snapshot]:
    rows = await pool.fetch(f"{_SUMMARY} WHERE s.campaign = $1 ORDER BY s.taken_at DESC, s.snapshot_id", campaign)
    return [_snapshot(r) for r in rows]


async def pinned_entries(pool: asyncpg.Pool, snapshot_id: str) -> list[Entry]:
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM circular_snapshot_report WHERE snapshot_id = $1 ORDER BY unit_id, report_id",
        snapshot_id,
    )
    return [_entry(r) for r in rows]
