"""A request's long lists are stored out of line without compression (submission's migration 010),
and read back as written. (Validation's unsent ids, its migration 006: test_validation_store.)"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from services.submission import app as submission_app, store as submission_store
from services.submission.wire import submitted_batch
from shared import db
from shared.events import ActivityReport
from tests.helpers import report

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

