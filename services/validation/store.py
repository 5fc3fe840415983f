"""PostgreSQL for validation: verdicts (the idempotency record) and history, a batch per query."""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import asyncpg
import orjson

from services.validation.history import Entry, History, Stat, title_key
from shared.events import DeadLettered, ReportSubmitted, ReportValidated, decode, encode

async def stored_verdicts(conn: asyncpg.Connection, event_ids: list[str]) -> dict[str, tuple[bytes, bool]]:
    """Verdicts already decided for these events: source_event_id -> (event as published, emitted)."""
    rows = await conn.fetch(
        "SELECT source_event_id, event, emitted FROM verdicts WHERE source_event_id = ANY($1::text[])", event_ids
    )
    return {r["source_event_id"]: (r["event"], r["emitted"]) for r in rows}


async def load_history(conn: asyncpg.Connection, events: list[ReportSubmitted]) -> History:
    """The slice of history these events are judged against: their reports, titles and units' stats."""
    history = History()
    if not events:
        return history
    keys = {(e.unit_id, e.report.report_id) for e in events}
    rows = await conn.fetch(
        """SELECT h.* FROM validation_history h
           JOIN unnest($1::text[], $2::text[]) AS k(unit_id, report_id) USING (unit_id, report_id)""",
        [k[0] for k in keys], [k[1] for k in keys],
    )
    for r in rows:
        history.entries[(r["unit_id"], r["report_id"])] = Entry(
            version=r["version"], title_key=r["title_key"], day=r["day"].isoformat(),
            metrics={m: Decimal(v) for m, v in r["metrics"].items()}, withdrawn=r["withdrawn"],
        )
    titles = {(e.unit_id, title_key(e.report.title), e.report.started_on) for e in events}
    rows = await conn.fetch(
        """SELECT h.unit_id, h.title_key, h.day, h.report_id FROM validation_history h
           JOIN unnest($1::text[], $2::text[], $3::date[]) AS k(unit_id, title_key, day) USING (unit_id, title_key, day)
           WHERE NOT h.withdrawn""",
        [t[0] for t in titles], [t[1] for t in titles], [t[2] for t in titles],
    )
    for r in rows:
        history.titles.setdefault((r["unit_id"], r["title_key"], r["day"].isoformat()), set()).add(r["report_id"])
    rows = await conn.fetch(
        "SELECT unit_id, metric_id, reports, total FROM validation_unit_stats WHERE unit_id = ANY($1::text[])",
        list({e.unit_id for e in events}),
    )
    for r in rows:
        history.stats[(r["unit_id"], r["metric_id"])] = Stat(r["reports"], r["total"])
    return history


async def save_history(conn: asyncpg.Connection, history: History) -> None:
    if history.changed_entries:
        keys = sorted(history.changed_entries)
        entries = [history.entries[k] for k in keys]
        await conn.execute(
            """INSERT INTO validation_history (unit_id, report_id, version, title_key, day, metrics, withdrawn)
               SELECT u, r, v, t, d, m::jsonb, w
               FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::date[], $6::text[], $7::bool[])
                    AS x(u, r, v, t, d, m, w)
               ON CONFLICT (unit_id, report_id) DO UPDATE SET version = EXCLUDED.version,
                   title_key = EXCLUDED.title_key, day = EXCLUDED.day, metrics = EXCLUDED.metrics,
                   withdrawn = EXCLUDED.withdrawn""",
            [k[0] for k in keys], [k[1] for k in keys], [e.version for e in entries],
            [e.title_key for e in entries], [date.fromisoformat(e.day) for e in entries],
            [orjson.dumps({m: str(v) for m, v in e.metrics.items()}).decode() for e in entries],
            [e.withdrawn for e in entries],
        )
    if history.changed_stats:
        keys = sorted(history.changed_stats)
        await conn.execute(
            """INSERT INTO validation_unit_stats (unit_id, metric_id, reports, total)
               SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::numeric[])
               ON CONFLICT (unit_id, metric_id) DO UPDATE SET reports = EXCLUDED.reports, total = EXCLUDED.total""",
            [k[0] for k in keys], [k[1] for k in keys],
            [history.stats[k].reports for k in keys], [history.stats[k].total for k in keys],
        )


async def save_verdicts(conn: asyncpg.Connection, verdicts: list[ReportValidated]) -> None:
    if not verdicts:
        return
    await conn.execute(
        """INSERT INTO verdicts (source_event_id, unit_id, report_id, version, verdict, issues, event)
           SELECT i, u, r, v, d, s::jsonb, e
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bytea[])
                AS x(i, u, r, v, d, s, e)
           ON CONFLICT (source_event_id) DO NOTHING""",
        [v.source_event_id for v in verdicts], [v.unit_id for v in verdicts],
        [v.report.report_id for v in verdicts], [v.report.version for v in verdicts], [v.verdict for v in verdicts],
        [orjson.dumps([i.model_dump() for i in v.issues]).decode() for v in verdicts], [encode(v) for v in verdicts],
    )


async def mark_emitted(pool: asyncpg.Pool, event_ids: list[str], emitted: bool = True) -> None:
    if event_ids:
        await pool.execute(
            "UPDATE verdicts SET emitted = $2 WHERE source_event_id = ANY($1::text[])", event_ids, emitted
        )


async def forget_emitted(pool: asyncpg.Pool) -> None:
    """The broker lost every record: nothing counts as emitted until it is sent again."""
    await pool.execute("UPDATE verdicts SET emitted = false WHERE emitted")
    await pool.execute("UPDATE dead_letters SET emitted = false WHERE emitted")


async def _unsent_pages(pool: asyncpg.Pool, table: str, columns: tuple[str, ...], page: int):
    """The rows of `table` the broker has not acknowledged, in `seq` order, a page at a time, as
    tuples of `columns`. (No index on them: read once per start, it would cost every insert.)"""
    last = 0
    while True:
        rows = await pool.fetch(
            f"SELECT seq, {', '.join(columns)} FROM {table} WHERE seq > $1 AND NOT emitted ORDER BY seq LIMIT $2", last, page
        )
        if not rows:
            return
        last = rows[-1]["seq"]
        yield [tuple(r[c] for c in columns) for r in rows]


def unsent_verdicts(pool: asyncpg.Pool, page: int = 5000):
    """Verdicts not yet acknowledged, in the order decided, a page at a time: [(source_event_id, unit_id, event)]."""
    return _unsent_pages(pool, "verdicts", ("source_event_id", "unit_id", "event"), page)


async def save_dead_letters(conn: asyncpg.Connection, letters: list[DeadLettered]) -> list[DeadLettered]:
    """Store dead letters; return those still to publish (new ones, or stored ones never acknowledged)."""
    if not letters:
        return []
    hashes = [hashlib.sha256(d.raw.encode()).hexdigest() for d in letters]
    rows = await conn.fetch(
        """WITH incoming AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
                   AS x(event_id, source_topic, source_partition, source_offset, raw_sha256, event)),
           inserted AS (
               INSERT INTO dead_letters (event_id, source_topic, source_partition, source_offset, raw_sha256, event)
               SELECT * FROM incoming ON CONFLICT DO NOTHING RETURNING event)
           SELECT event FROM inserted
           UNION ALL
           SELECT d.event FROM dead_letters d JOIN incoming i
               USING (source_topic, source_partition, source_offset, raw_sha256) WHERE NOT d.emitted""",
        [d.event_id for d in letters], [d.source_topic for d in letters], [d.partition for d in letters],
        [d.offset for d in letters], hashes, [encode(d) for d in letters],
    )
    return [decode(DeadLettered, r["event"]) for r in rows]


async def mark_dead_letters_emitted(pool: asyncpg.Pool, event_ids: list[str]) -> None:
    if event_ids:
        await pool.execute("UPDATE dead_letters SET emitted = true WHERE event_id = ANY($1::text[])", event_ids)


def unsent_dead_letters(pool: asyncpg.Pool, page: int = 5000):
    """Dead letters not yet acknowledged, in order, a page at a time: [(event_id, source_topic, event)]."""
    return _unsent_pages(pool, "dead_letters", ("event_id", "source_topic", "event"), page)
