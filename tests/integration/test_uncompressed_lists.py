"""The long lists written once per request or batch are stored out of line without compression
(submission's migration 010, validation's 006), and read back as written."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from services.submission import app as submission_app, store as submission_store
from services.submission.wire import submitted_batch
from services.validation import app as validation_app, handlers
from shared import db
from shared.events import ActivityReport, encode
from tests.helpers import report
from tests.unit.test_validation_cases import submitted
from tests.unit.test_validation_rules import CTX

pytestmark = pytest.mark.asyncio


async def test_a_requests_lists_are_stored_uncompressed_and_read_back(database_url):
    pool = await db.create_pool(database_url)
    try:
        await db.migrate(pool, submission_app.SERVICE, submission_app.MIGRATIONS)
        reports = [ActivityReport.model_validate(report(f"r-{i}")) for i in range(300)]
        batch = submitted_batch(reports, submission_id="s-big", unit_id="pudong", received_at=time.time(),
                                campaign_time=datetime(2022, 9, 5, tzinfo=timezone.utc))
        await submission_store.save_reports(pool, "s-big", "pudong", batch, {}, None)
        await submission_store.apply_verdicts(pool, [("s-big", e, "accepted", []) for e in batch.event_ids])

        for table, column in (("outbox", "event_ids"), ("submission_report_lists", "reports"), ("verdict_lists", "verdicts")):
            stored = await pool.fetchrow(f"SELECT pg_column_compression({column}) AS method, pg_column_size({column}) AS size FROM {table}")
            assert stored["method"] is None and stored["size"] > 8000, (table, dict(stored))  # out of line, not compressed
        loaded = await submission_store.load_submission(pool, "s-big")
        assert [r["report_id"] for r in loaded["reports"]] == [f"r-{i}" for i in range(300)]
        assert {r["state"] for r in loaded["reports"]} == {"accepted"}
    finally:
        await pool.close()


async def test_a_validation_batchs_unsent_ids_are_stored_uncompressed(database_url):
    pool = await db.create_pool(database_url)
    try:
        await db.migrate(pool, validation_app.SERVICE, validation_app.MIGRATIONS)
        events = [submitted("pudong", report(f"v-{i}")) for i in range(300)]
        records = [handlers.Record("qm.reports.submitted.v1", 0, i, encode(e)) for i, e in enumerate(events)]
        outcome = await handlers.process(pool, CTX, records)
        stored = await pool.fetchrow(
            "SELECT event_ids, pg_column_compression(event_ids) AS method FROM verdicts_unsent WHERE batch = $1", outcome.unsent_batch
        )
        assert stored["method"] is None
        assert stored["event_ids"] == [e.event_id for e in events]
    finally:
        await pool.close()
