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
    """Verdicts already decided for these events: source_event_id -> (event as published, still unsent)."""
    rows = await conn.fetch(
        """SELECT v.source_event_id, v.event,
                  EXISTS (SELECT FROM verdicts_unsent u WHERE v.source_event_id = ANY (u.event_ids)
                                                         OR (v.seq > u.after_seq AND v.seq <= u.upto_seq)) AS unsent
           FROM unnest($1::text[]) AS k(id) CROSS JOIN LATERAL (
               SELECT source_event_id, event, seq FROM verdicts WHERE source_event_id = k.id LIMIT 1) AS v""",
        event_ids,
    )
    return {r["source_event_id"]: (r["event"], r["unsent"]) for r in rows}


async def load_history(conn: asyncpg.Connection, events: list[ReportSubmitted]) -> History:
    """The slice of history these events are judged against: their reports, titles and units' stats."""
    history = History()
    if not events:
        return history
    keys = {(e.unit_id, e.report.report_id) for e in events}
    # One index probe per key (LIMIT and OFFSET keep each subquery a nested loop): a join the planner
    # may pick instead hashes or sorts the whole history, a cost that grows with it.
    rows = await conn.fetch(
        """SELECT h.* FROM unnest($1::text[], $2::text[]) AS k(unit_id, report_id) CROSS JOIN LATERAL (
               SELECT * FROM validation_history h WHERE h.unit_id = k.unit_id AND h.report_id = k.report_id LIMIT 1) AS h""",
        [k[0] for k in keys], [k[1] for k in keys],
    )
    for r in rows:
        history.entries[(r["unit_id"], r["report_id"])] = Entry(
            version=r["version"], title_key=r["title_key"], day=r["day"].isoformat(),
            metrics={m: Decimal(v) for m, v in r["metrics"].items()}, withdrawn=r["withdrawn"],
        )
    titles = {(e.unit_id, title_key(e.report.title), e.report.started_on) for e in events}
    rows = await conn.fetch(
        """SELECT h.unit_id, h.title_key, h.day, h.report_id
           FROM unnest($1::text[], $2::text[], $3::date[]) AS k(unit_id, title_key, day) CROSS JOIN LATERAL (
               SELECT * FROM validation_history h
               WHERE h.unit_id = k.unit_id AND h.title_key = k.title_key AND h.day = k.day AND NOT h.withdrawn OFFSET 0) AS h""",
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


# A batch's writes in one statement: a single report is a batch of its own in the rush, and four
# statements were four round trips for it. Empty arrays write nothing.
_SAVE_DECISIONS = """
WITH verdict_rows AS (
    INSERT INTO verdicts (source_event_id, unit_id, event) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
    ON CONFLICT (source_event_id) DO NOTHING),
history_rows AS (
    INSERT INTO validation_history (unit_id, report_id, version, title_key, day, metrics, withdrawn)
    SELECT u, r, v, t, d, m::jsonb, w
    FROM unnest($4::text[], $5::text[], $6::int[], $7::text[], $8::date[], $9::text[], $10::bool[]) AS x(u, r, v, t, d, m, w)
    ON CONFLICT (unit_id, report_id) DO UPDATE SET version = EXCLUDED.version,
        title_key = EXCLUDED.title_key, day = EXCLUDED.day, metrics = EXCLUDED.metrics, withdrawn = EXCLUDED.withdrawn),
stat_rows AS (
    INSERT INTO validation_unit_stats (unit_id, metric_id, reports, total)
    SELECT * FROM unnest($11::text[], $12::text[], $13::int[], $14::numeric[])
    ON CONFLICT (unit_id, metric_id) DO UPDATE SET reports = EXCLUDED.reports, total = EXCLUDED.total)
INSERT INTO verdicts_unsent (event_ids) SELECT $15::text[] WHERE cardinality($15::text[]) > 0 RETURNING batch
"""


async def save_decisions(
    conn: asyncpg.Connection, verdicts: list[ReportValidated], wire: list[bytes], history: History, unsent: list[str]
) -> int | None:
    """Store verdicts (with `wire`, each one's event as it will be published), the history they
    changed, and `unsent`, the event ids of the verdicts about to be sent, as a batch the broker has
    not acknowledged yet; returns that batch's number."""
    keys = sorted(history.changed_entries)
    entries = [history.entries[k] for k in keys]
    stat_keys = sorted(history.changed_stats)
    return await conn.fetchval(
        _SAVE_DECISIONS,
        [v.source_event_id for v in verdicts], [v.unit_id for v in verdicts], wire,
        [k[0] for k in keys], [k[1] for k in keys], [e.version for e in entries],
        [e.title_key for e in entries], [date.fromisoformat(e.day) for e in entries],
        [orjson.dumps({m: str(v) for m, v in e.metrics.items()}).decode() for e in entries],
        [e.withdrawn for e in entries],
        [k[0] for k in stat_keys], [k[1] for k in stat_keys],
        [history.stats[k].reports for k in stat_keys], [history.stats[k].total for k in stat_keys],
        unsent,
    )


async def acknowledged(pool: asyncpg.Pool, batch: int | None, resent: list[str]) -> None:
    """The broker acknowledged `batch`; `resent` verdicts (stored and sent again) also clear the older
    batches they were all that was left of."""
    if batch is not None:
        await pool.execute(
            "DELETE FROM verdicts_unsent WHERE batch = $1 OR ($2::text[] IS NOT NULL AND event_ids <@ $2::text[])",
            batch, resent or None,
        )


async def forget_emitted(pool: asyncpg.Pool) -> None:
    """The broker lost every record: every verdict decided so far (as one range) and every dead
    letter is unsent again."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM verdicts_unsent")
        await conn.execute(
            "INSERT INTO verdicts_unsent (after_seq, upto_seq) SELECT 0, max(seq) FROM verdicts HAVING count(*) > 0"
        )
        await conn.execute("UPDATE dead_letters SET emitted = false WHERE emitted")


async def unsent_verdicts(pool: asyncpg.Pool, page: int = 5000):
    """What the broker has not acknowledged, oldest first, a page at a time: (batch, the last seq of
    the page if the batch is a range, [(unit_id, event as published)])."""
    for b in await pool.fetch("SELECT batch, event_ids, after_seq, upto_seq FROM verdicts_unsent ORDER BY batch"):
        if b["event_ids"] is not None:
            rows = await pool.fetch(
                """SELECT v.unit_id, v.event FROM unnest($1::text[]) AS k(id) CROSS JOIN LATERAL (
                       SELECT unit_id, event, seq FROM verdicts WHERE source_event_id = k.id LIMIT 1) AS v
                   ORDER BY v.seq""",
                b["event_ids"],
            )
            yield b["batch"], None, [(r["unit_id"], r["event"]) for r in rows]
            continue
        after = b["after_seq"]
        while rows := await pool.fetch(
            "SELECT seq, unit_id, event FROM verdicts WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            after, b["upto_seq"], page,
        ):
            after = rows[-1]["seq"]
            yield b["batch"], after, [(r["unit_id"], r["event"]) for r in rows]
        # Resumed after the last page was acknowledged: the whole range is sent.
        await pool.execute("DELETE FROM verdicts_unsent WHERE batch = $1", b["batch"])


async def range_sent_up_to(pool: asyncpg.Pool, batch: int, seq: int) -> None:
    """The broker acknowledged a range's verdicts up to `seq`: a restart resumes after it."""
    await pool.execute("UPDATE verdicts_unsent SET after_seq = $2 WHERE batch = $1", batch, seq)


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
