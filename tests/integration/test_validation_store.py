"""Validation's batch handler against real PostgreSQL: redelivery, crash recovery and history."""
from __future__ import annotations

import asyncpg
import pytest

from services.validation import handlers, store
from services.validation.app import MIGRATIONS, SERVICE
from shared import db
from shared.events import encode
from tests.helpers import report
from tests.unit.test_validation_cases import submitted
from tests.unit.test_validation_rules import CTX

pytestmark = pytest.mark.asyncio


async def _pool(database_url) -> asyncpg.Pool:
    pool = await db.create_pool(database_url)
    await db.migrate(pool, SERVICE, MIGRATIONS)
    return pool


def _records(*events_or_bytes) -> list[handlers.Record]:
    return [
        handlers.Record("qm.reports.submitted.v1", 0, i, e if isinstance(e, bytes) else encode(e))
        for i, e in enumerate(events_or_bytes)
    ]


async def test_redelivery_sends_nothing_twice_and_a_crash_before_the_ack_resends_the_same(database_url):
    pool = await _pool(database_url)
    try:
        good = submitted("pudong", report("a", metrics={"participants": 5}))
        bad = submitted("pudong", report("b", metrics={"participants": -5}))
        records = _records(good, b"not json", bad)
        first = await handlers.process(pool, CTX, records)
        assert [v.verdict for v in first.to_send] == ["accepted", "rejected"] and len(first.dead_letters) == 1

        # The broker never acknowledged (a crash): the same verdicts and dead letter go out again.
        again = await handlers.process(pool, CTX, records)
        assert again.to_send == first.to_send and again.dead_letters == first.dead_letters and again.decided == []

        await handlers.mark_emitted(pool, again)
        after_ack = await handlers.process(pool, CTX, records)
        assert (after_ack.to_send, after_ack.dead_letters, after_ack.decided) == ([], [], [])

        # Only the accepted report is history; the rejected one never happened.
        rows = await pool.fetch("SELECT report_id FROM validation_history")
        assert [r["report_id"] for r in rows] == ["a"]
        assert await pool.fetchval("SELECT reports FROM validation_unit_stats WHERE metric_id = 'participants'") == 1
    finally:
        await pool.close()


async def test_history_carries_over_batches(database_url):
    pool = await _pool(database_url)
    try:
        await handlers.process(pool, CTX, _records(submitted("pudong", report("x1", title="质量开放日"))))
        correction = submitted("pudong", report("x1", version=2, title="质量开放日"))
        twin = submitted("pudong", report("x2", title="质量开放日"))
        outcome = await handlers.process(pool, CTX, _records(correction, twin))
        assert [(v.verdict, [i.code for i in v.issues]) for v in outcome.to_send] == [
            ("accepted", []), ("accepted_with_warnings", ["duplicate.activity"])
        ]
        assert await pool.fetchval("SELECT version FROM validation_history WHERE report_id = 'x1'") == 2
    finally:
        await pool.close()


async def test_a_reset_replay_resumes_after_the_last_page_the_broker_acknowledged(database_url):
    pool = await _pool(database_url)
    try:
        events = [submitted("pudong", report(f"r{i}")) for i in range(5)]
        outcome = await handlers.process(pool, CTX, _records(*events))
        await handlers.mark_emitted(pool, outcome)
        assert await pool.fetchval("SELECT count(*) FROM verdicts_unsent") == 0

        await store.forget_emitted(pool)  # the broker lost everything: all five are unsent again
        first = store.unsent_verdicts(pool, page=2)
        batch, upto, page = await anext(first)
        assert [e for _, e in page] == outcome.wire[:2]
        await store.range_sent_up_to(pool, batch, upto)
        await first.aclose()  # the process dies before the next page

        rest = [page async for _, _, page in store.unsent_verdicts(pool, page=2)]
        assert [e for p in rest for _, e in p] == outcome.wire[2:]  # from where the broker's acknowledgement left off
        assert await pool.fetchval("SELECT count(*) FROM verdicts_unsent") == 0
    finally:
        await pool.close()


async def test_a_batchs_unsent_ids_are_stored_uncompressed(database_url):
    """Migration 006: out of line without pglz, whose compression was a visible part of PostgreSQL's CPU."""
    pool = await _pool(database_url)
    try:
        events = [submitted("pudong", report(f"v-{i}")) for i in range(300)]
        outcome = await handlers.process(pool, CTX, _records(*events))
        stored = await pool.fetchrow(
            "SELECT event_ids, pg_column_compression(event_ids) AS method FROM verdicts_unsent WHERE batch = $1", outcome.unsent_batch
        )
        assert stored["method"] is None
        assert stored["event_ids"] == [e.event_id for e in events]
    finally:
        await pool.close()
