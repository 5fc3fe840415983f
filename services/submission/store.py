"""Writes a submission, its idempotency key, its reports and their outbox row in one transaction;
reads submissions back and applies validation's verdicts to them."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import asyncpg

from services.submission.intake import newest_in_batch, stale_issue, stale_issue_template
from shared import topics
from services.submission.wire import SubmittedBatch
from shared.events import Contract, ReturnFiled, encode
from shared.kafka import record_key

_DEADLOCK_RETRIES = 3


@dataclass(frozen=True)
class Claim:
    """An Idempotency-Key and the hash of the body it came with."""

    key: str
    body_hash: str


@dataclass(frozen=True)
class Earlier:
    """The key was used before: the body it came with then, and the answer given then."""

    body_hash: str
    answer: dict


@dataclass(frozen=True)
class Saved:
    published: int
    stale: int


class _KeyTaken(Exception):
    pass


async def queue_event(conn: asyncpg.Connection, spec: topics.TopicSpec, event: Contract, submission_id: str | None = None) -> None:
    """One event into the outbox, for the relay to publish once the transaction commits."""
    await conn.execute(
        """INSERT INTO outbox (topic, key, submission_id, event_ids, record_values, events)
           VALUES ($1, $2, $3, ARRAY[$4::text], ARRAY[$5::bytea], 1)""",
        spec.name, record_key(spec, event), submission_id, event.event_id, encode(event),  # type: ignore[attr-defined]
    )


async def _claim(conn: asyncpg.Connection, unit_id: str, claim: Claim | None, answer: dict) -> None:
    if claim is None:
        return
    # A concurrent request with the same key waits here on the unique index until the first commits.
    claimed = await conn.fetchval(
        """INSERT INTO idempotency_keys (unit_id, key, body_hash, answer) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        unit_id, claim.key, claim.body_hash, answer,
    )
    if not claimed:
        raise _KeyTaken


async def _earlier(pool: asyncpg.Pool, unit_id: str, key: str) -> Earlier:
    row = await pool.fetchrow("SELECT body_hash, answer FROM idempotency_keys WHERE unit_id = $1 AND key = $2", unit_id, key)
    return Earlier(row["body_hash"], row["answer"])


async def _retrying_deadlocks(step):
    """Await `step()`, again after a deadlock (requests that lock report rows at once), a few times."""
    for attempt in range(_DEADLOCK_RETRIES):
        try:
            return await step()
        except asyncpg.DeadlockDetectedError:
            if attempt == _DEADLOCK_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _transact(pool: asyncpg.Pool, unit_id: str, claim: Claim | None, work) -> Earlier | Saved:
    async def in_transaction():
        async with pool.acquire() as conn, conn.transaction():
            return await work(conn)

    try:
        return await _retrying_deadlocks(in_transaction)
    except _KeyTaken:
        return await _earlier(pool, unit_id, claim.key)  # type: ignore[union-attr]


# A request's reports in one statement, so in one implicit transaction: a single report's request
# is dominated by round trips (it took BEGIN, two statements and COMMIT). With an Idempotency-Key
# the claim comes first and gates every write: a key already taken writes nothing, and a
# concurrent request with the same key waits on its unique index until the first commits.
# $2 is the request's report list as if every report the batch itself does not make stale were
# new; only when the database finds one stale (a version not above the stored one) is it rebuilt,
# with the stale-version issue ($11, a template for format()).
_SAVE_REPORTS = """
WITH claim AS ({claim}),
head AS (INSERT INTO submissions (submission_id, unit_id, kind) SELECT $1, $3, 'reports' FROM claim),
fresh AS (
    INSERT INTO report_versions AS rv (unit_id, report_id, version)
    SELECT $3, r, v FROM unnest($4::text[], $5::int[]) AS t(r, v), claim ORDER BY r
    ON CONFLICT (unit_id, report_id) DO UPDATE SET version = EXCLUDED.version WHERE rv.version < EXCLUDED.version
    RETURNING report_id),
all_fresh AS (SELECT count(*) = cardinality($4::text[]) AS yes FROM fresh),
report_list AS (
    INSERT INTO submission_report_lists (submission_id, reports)
    SELECT $1, CASE WHEN all_fresh.yes THEN $2::json ELSE (
        SELECT json_agg(CASE WHEN x ->> 's' = 'pending' AND NOT EXISTS (SELECT FROM fresh WHERE report_id = x ->> 'r')
                             THEN x::jsonb || jsonb_build_object('s', 'accepted', 'i', jsonb_build_array($11::jsonb || jsonb_build_object(
                                 'message_en', format($11::jsonb ->> 'message_en', x ->> 'v', x ->> 'r'),
                                 'message_zh', format($11::jsonb ->> 'message_zh', x ->> 'v', x ->> 'r'))))
                             ELSE x::jsonb END ORDER BY n)::json
        FROM json_array_elements($2::json) WITH ORDINALITY AS l(x, n)) END
    FROM all_fresh, claim),
published AS (
    SELECT array_agg(e ORDER BY n) AS event_ids, array_agg(val ORDER BY n) AS record_values
    FROM unnest($6::text[], $7::bytea[], $8::text[]) WITH ORDINALITY AS p(e, val, r, n)
    WHERE r IN (SELECT report_id FROM fresh)),
box AS (
    INSERT INTO outbox (topic, key, submission_id, event_ids, record_values, events)
    SELECT $9, $10, $1, event_ids, record_values, cardinality(event_ids) FROM published WHERE event_ids IS NOT NULL)
SELECT EXISTS (SELECT FROM claim) AS claimed, (SELECT count(*) FROM fresh) AS published
"""
_CLAIM = "INSERT INTO idempotency_keys (unit_id, key, body_hash, answer) VALUES ($3, $12, $13, $14) ON CONFLICT DO NOTHING RETURNING true"
_SAVE_REPORTS_CLAIMED = _SAVE_REPORTS.format(claim=_CLAIM)
_SAVE_REPORTS_UNCLAIMED = _SAVE_REPORTS.format(claim="SELECT true")


async def save_reports(
    pool: asyncpg.Pool, submission_id: str, unit_id: str, batch: SubmittedBatch, answer: dict, claim: Claim | None
) -> Earlier | Saved:
    reports, event_ids = batch.reports, batch.event_ids
    newest = newest_in_batch(reports)
    # Sorted, so that concurrent requests lock report_versions rows in one order (no deadlocks).
    candidates = sorted((rid, reports[i].version) for rid, i in newest.items())
    in_batch_newest = [newest[r.report_id] == i for i, r in enumerate(reports)]
    reports_json = [{"r": r.report_id, "v": r.version, "e": e, "s": "pending" if ok else "accepted",
                     "i": [] if ok else [stale_issue(r)]} for r, e, ok in zip(reports, event_ids, in_batch_newest)]
    # The record key comes from the envelope (the registry keys this topic by unit_id).
    spec = topics.REPORTS_SUBMITTED
    key = record_key(spec, SimpleNamespace(unit_id=unit_id, submission_id=submission_id))  # type: ignore[arg-type]
    args = [
        submission_id, reports_json, unit_id, [c[0] for c in candidates], [c[1] for c in candidates],
        [e for e, ok in zip(event_ids, in_batch_newest) if ok], [v for v, ok in zip(batch.values, in_batch_newest) if ok],
        [r.report_id for r, ok in zip(reports, in_batch_newest) if ok], spec.name, key, stale_issue_template(),
    ]
    sql = _SAVE_REPORTS_UNCLAIMED
    if claim is not None:
        sql, args = _SAVE_REPORTS_CLAIMED, [*args, claim.key, claim.body_hash, answer]
    row = await _retrying_deadlocks(lambda: pool.fetchrow(sql, *args))
    if not row["claimed"]:
        return await _earlier(pool, unit_id, claim.key)  # type: ignore[union-attr]
    return Saved(published=row["published"], stale=len(reports) - row["published"])


async def save_return(
    pool: asyncpg.Pool, submission_id: str, event: ReturnFiled, answer: dict, claim: Claim | None
) -> Earlier | Saved:
    async def work(conn: asyncpg.Connection) -> Saved:
        await _claim(conn, event.unit_id, claim, answer)
        await conn.execute(
            "INSERT INTO submissions (submission_id, unit_id, kind) VALUES ($1, $2, 'return')", submission_id, event.unit_id
        )
        await queue_event(conn, topics.RETURNS_FILED, event, submission_id)
        return Saved(published=1, stale=0)

    return await _transact(pool, event.unit_id, claim, work)


async def load_submission(pool: asyncpg.Pool, submission_id: str) -> dict | None:
    head = await pool.fetchrow("SELECT submission_id, unit_id, kind FROM submissions WHERE submission_id = $1", submission_id)
    if head is None:
        return None
    rows = await pool.fetch(
        "SELECT report_id, version, state, issues FROM submission_reports WHERE submission_id = $1 ORDER BY position",
        submission_id,
    )
    return {"submission_id": submission_id, "unit_id": head["unit_id"], "kind": head["kind"], "reports": [dict(r) for r in rows]}


async def apply_verdicts(pool: asyncpg.Pool | asyncpg.Connection, verdicts: list[tuple[str, str, str, list]]) -> None:
    """Store (submission_id, event_id, state, issues) for the reports they decide, a row per
    submission; repeating it changes nothing that is read."""
    if not verdicts:
        return
    by_submission: dict[str, list[dict]] = {}
    for submission_id, event_id, state, issues in verdicts:
        by_submission.setdefault(submission_id, []).append({"e": event_id, "s": state, "i": issues})
    await pool.execute(
        "INSERT INTO verdict_lists (submission_id, verdicts) SELECT key, value FROM json_each($1::json)", by_submission
    )
