"""Submission's migrations 007 to 009: the outbox's rows of one event each become rows of a request's
events side by side, verdicts move to a table of their own, then a request's reports and a batch's
verdicts become one row each; rows stored before them keep their reports readable, their states and
their events publishable."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from services.submission import archive, store
from services.submission.wire import submitted_batch
from shared import db, topics
from shared.events import ActivityReport
from tests.helpers import report
from tests.integration.test_returns_campaign_migrations import migrate_until, SERVICES


async def test_rows_stored_before_keep_their_reports_and_states(database_url, tmp_path):
    pool = await db.create_pool(database_url)
    try:
        await migrate_until(pool, "submission", 6, tmp_path)
        batch = submitted_batch([ActivityReport.model_validate(report(r)) for r in ("r-1", "r-2")], submission_id="s-1",
                                unit_id="pudong", received_at=time.time(), campaign_time=datetime(2022, 9, 5, tzinfo=timezone.utc))
        await pool.execute("INSERT INTO submissions (submission_id, unit_id, kind) VALUES ('s-1', 'pudong', 'reports')")
        for position, (report_id, state) in enumerate([("r-1", "pending"), ("r-2", "rejected")]):
            await pool.execute(
                """INSERT INTO submission_reports (submission_id, position, report_id, version, event_id, state)
                   VALUES ('s-1', $1, $2, 1, $3, $4)""",
                position, report_id, batch.event_ids[position], state,
            )
            await pool.execute(
                "INSERT INTO outbox (topic, key, value, event_id) VALUES ($1, 'pudong', $2, $3)",
                topics.REPORTS_SUBMITTED.name, batch.values[position], batch.event_ids[position],
            )

        applied = await db.migrate(pool, "submission", SERVICES / "submission" / "migrations")
        assert {"007_outbox_per_request.sql", "008_report_verdicts.sql", "009_report_lists.sql"} <= set(applied)

        rows = await pool.fetch("SELECT submission_id, event_ids, record_values, events, published_at FROM outbox ORDER BY id")
        assert [dict(r) for r in rows] == [
            {"submission_id": "s-1", "event_ids": [e], "record_values": [v], "events": 1, "published_at": None}
            for e, v in zip(batch.event_ids, batch.values)
        ]

        async def states() -> dict[str, str]:
            shown = await archive.versions(pool, ["pudong"], None, ZoneInfo("Asia/Shanghai"))
            assert [s["title"] for s in shown] == [report(r)["title"] for r in ("r-1", "r-2")]
            return {s["report_id"]: s["state"] for s in shown}

        assert await states() == {"r-1": "pending", "r-2": "rejected"}  # the verdict stored before 008 stays
        await store.apply_verdicts(pool, [("s-1", batch.event_ids[0], "accepted_with_warnings", [])])
        assert await states() == {"r-1": "accepted_with_warnings", "r-2": "rejected"}
        loaded = await store.load_submission(pool, "s-1")
        assert [(r["report_id"], r["state"]) for r in loaded["reports"]] == [("r-1", "accepted_with_warnings"), ("r-2", "rejected")]
    finally:
        await pool.close()
