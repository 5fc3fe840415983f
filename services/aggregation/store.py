"""The report ledger in PostgreSQL: read the entries a batch touches, write the changed ones,
and rebuild every total from it after a restart."""
from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.aggregation.totals import Entry, TotalKey

_COLUMNS = "unit_id, report_id, version, district_id, focus_area, day, title, metrics, withdrawn, campaign_time"


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        unit_id=row["unit_id"], report_id=row["report_id"], version=row["version"], district_id=row["district_id"],
        focus_area=row["focus_area"], day=row["day"].isoformat(), title=row["title"], metrics=row["metrics"],
        withdrawn=row["withdrawn"], campaign_time=row["campaign_time"].isoformat(),
    )


async def load_entries(conn: asyncpg.Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Entry]:
    if not keys:
        return {}
    units, reports = zip(*keys)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM ledger
            WHERE (unit_id, report_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
        list(units), list(reports),
    )
    return {(r["unit_id"], r["report_id"]): _entry(r) for r in rows}


async def save_entries(conn: asyncpg.Connection, entries: list[Entry]) -> None:
    if not entries:
        return
    await conn.executemany(
        f"""INSERT INTO ledger ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (unit_id, report_id) DO UPDATE SET
              version = excluded.version, district_id = excluded.district_id, focus_area = excluded.focus_area,
              day = excluded.day, title = excluded.title, metrics = excluded.metrics,
              withdrawn = excluded.withdrawn, campaign_time = excluded.campaign_time
            WHERE ledger.version < excluded.version""",
        [
            (e.unit_id, e.report_id, e.version, e.district_id, e.focus_area, date.fromisoformat(e.day), e.title,
             e.metrics, e.withdrawn, datetime.fromisoformat(e.campaign_time))
            for e in entries
        ],
    )


async def rebuild_totals(pool: asyncpg.Pool) -> dict[TotalKey, int]:
    rows = await pool.fetch(
        """SELECT d.dim, d.grp, m.key AS metric, sum(m.value::bigint)::bigint AS total
           FROM ledger l
           CROSS JOIN LATERAL jsonb_each_text(l.metrics) m
           CROSS JOIN LATERAL (VALUES ('city', 'all'), ('unit', l.unit_id), ('district', l.district_id),
                                      ('focus_area', l.focus_area), ('day', l.day::text)) d(dim, grp)
           WHERE NOT l.withdrawn AND d.grp IS NOT NULL AND d.grp <> ''
           GROUP BY 1, 2, 3"""
    )
    return {(r["dim"], r["grp"], r["metric"]): r["total"] for r in rows if r["total"]}


async def newest_campaign_time(pool: asyncpg.Pool) -> datetime | None:
    return await pool.fetchval("SELECT max(campaign_time) FROM ledger")
