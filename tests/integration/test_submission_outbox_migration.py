"""Submission's migration 007 turns the outbox's rows of one event each into rows of a request's
events side by side: rows stored before it keep their reports readable and their events publishable."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from services.submission import archive
from services.submission.wire import submitted_batch
from shared import db, topics
from shared.events import ActivityReport
from tests.helpers import report
from tests.integration.test_returns_campaign_migrations import migrate_until, SERVICES


async def test_rows_stored_one_event_each_become_one_element_rows(database_url, tmp_path):
    pool = await db.create_pool(database_url)
    try:
        await migrate_until(pool, "submission", 6, tmp_path)
        batch = submitted_batch([ActivityReport.model_validate(report("r-1"))], submission_id="s-1", unit_id="pudong",
                                received_at=time.time(), campaign_time=datetime(2022, 9, 5, tzinfo=timezone.utc))
        await pool.execute("INSERT INTO submissions (submission_id, unit_id, kind) VALUES ('s-1', 'pudong', 'reports')")
        await pool.execute(
            "INSERT INTO submission_reports (submission_id, position, report_id, version, event_id) VALUES ('s-1', 0, 'r-1', 1, $1)",
            batch.event_ids[0],
        )
        await pool.execute(
            "INSERT INTO outbox (topic, key, value, event_id) VALUES ($1, 'pudong', $2, $3)",
            topics.REPORTS_SUBMITTED.name, batch.values[0], batch.event_ids[0],
        )

        assert "007_outbox_per_request.sql" in await db.migrate(pool, "submission", SERVICES / "submission" / "migrations")

        row = await pool.fetchrow("SELECT submission_id, event_ids, record_values, events, published_at FROM outbox")
        assert dict(row) == {"submission_id": "s-1", "event_ids": batch.event_ids, "record_values": batch.values,
                             "events": 1, "published_at": None}
        [stored] = await archive.versions(pool, ["pudong"], None, ZoneInfo("Asia/Shanghai"))
        assert (stored["report_id"], stored["title"], stored["state"]) == ("r-1", report("r-1")["title"], "pending")
    finally:
        await pool.close()
