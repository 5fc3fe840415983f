"""The campaign migrations fill the rows stored before them (notification 005, aggregation 006): a
return's rows belong to the year it was due, an alert to the year it was raised; afterwards each
key holds once per campaign, so a 2023 alert with a 2022 alert's dedup key is raised."""
from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.aggregation import store
from services.notification import alerts
from services.notification.deadlines import PlannedAlert
from shared import db
from shared.events import AlertRaised, ReturnStatusChanged, encode

SERVICES = Path(__file__).resolve().parents[2] / "services"
CST = timezone(timedelta(hours=8))
DUE_2022, DUE_2023 = datetime(2022, 9, 9, 12, tzinfo=CST), datetime(2023, 9, 9, 12, tzinfo=CST)


async def migrate_until(pool, service: str, last: int, tmp_path: Path) -> None:
    """Apply the service's migrations up to number `last`, as a database from before the campaign column."""
    older = tmp_path / service
    older.mkdir()
    for path in (SERVICES / service / "migrations").glob("*.sql"):
        if int(path.name.split("_")[0]) <= last:
            shutil.copy(path, older)
    await db.migrate(pool, service, older)


def transition(unit_id: str, due_at: datetime) -> bytes:
    return encode(ReturnStatusChanged(received_at=time.time(), campaign_time=due_at, unit_id=unit_id, period_id="W1",
                                      status="overdue", previous="not_due", due_at=due_at))


async def test_notification_rows_stored_before_take_their_campaign(database_url, tmp_path):
    pool = await db.create_pool(database_url)
    try:
        await migrate_until(pool, "notification", 4, tmp_path)
        await pool.executemany(
            "INSERT INTO return_states (unit_id, period_id, due_at, status) VALUES ($1, 'W1', $2, $3)",
            [("pudong", DUE_2022, "overdue"), ("samr", DUE_2022, "filed_on_time"), ("huangpu", DUE_2023, "filed_on_time")],
        )
        # huangpu filed in November 2022 for the 2023 campaign (`qm run` opens next year's once this
        # year's final return is due): its return decides, not the filing's own year.
        await pool.executemany(
            "INSERT INTO filings (unit_id, period_id, filed_at, event_id) VALUES ($1, 'W1', $2, $1)",
            [("samr", DUE_2022 - timedelta(days=1)), ("huangpu", datetime(2022, 11, 20, tzinfo=CST))],
        )
        await pool.executemany(
            "INSERT INTO return_transitions (unit_id, period_id, status, event) VALUES ($1, 'W1', 'overdue', $2)",
            [("pudong", transition("pudong", DUE_2022))],
        )
        raised = AlertRaised(received_at=time.time(), campaign_time=DUE_2022, alert_id="a" * 32, kind="overdue",
                             unit_id="pudong", period_id="W1", raised_at=DUE_2022, message_zh="逾期", message_en="overdue")
        await pool.execute(
            """INSERT INTO alerts (alert_id, dedup_key, kind, unit_id, period_id, raised_at, message_zh, message_en, event)
               VALUES ($1, 'overdue:pudong:W1', 'overdue', 'pudong', 'W1', $2, '逾期', 'overdue', $3)""",
            raised.alert_id, raised.raised_at, encode(raised),
        )

        await db.migrate(pool, "notification", SERVICES / "notification" / "migrations")
        campaigns = lambda table: pool.fetch(f"SELECT unit_id, campaign FROM {table} ORDER BY unit_id")  # noqa: E731
        assert [tuple(r) for r in await campaigns("return_states")] == [("huangpu", 2023), ("pudong", 2022), ("samr", 2022)]
        assert [tuple(r) for r in await campaigns("filings")] == [("huangpu", 2023), ("samr", 2022)]
        assert [tuple(r) for r in await campaigns("return_transitions")] == [("pudong", 2022)]
        assert [tuple(r) for r in await campaigns("alerts")] == [("pudong", 2022)]

        planned = [PlannedAlert("overdue:pudong:W1", "overdue", "pudong", "W1", "逾期", "overdue")]
        async with pool.acquire() as conn, conn.transaction():
            assert await alerts.insert(conn, 2022, planned, DUE_2022, ()) == []  # raised in 2022 already
            [fresh] = await alerts.insert(conn, 2023, planned, DUE_2023, ())
        assert (await alerts.get(pool, 2023, fresh.alert_id, CST))["raised_at"] == DUE_2023.isoformat()
        assert await alerts.get(pool, 2023, raised.alert_id) is None
    finally:
        await pool.close()


async def test_aggregation_rows_stored_before_take_their_campaign(database_url, tmp_path):
    pool = await db.create_pool(database_url)
    try:
        await migrate_until(pool, "aggregation", 5, tmp_path)
        await pool.executemany(
            """INSERT INTO return_state (unit_id, period_id, status, rank, due_at, event_time)
               VALUES ($1, 'W1', 'overdue', 1, $2, $2)""",
            [("pudong", DUE_2022), ("samr", DUE_2023)],
        )
        await pool.execute(
            """INSERT INTO alert_feed (alert_id, kind, unit_id, period_id, raised_at, message_zh, message_en, campaign_time, received_at)
               VALUES ('a1', 'overdue', 'pudong', 'W1', $1, '逾期', 'overdue', $1, 0)""",
            DUE_2022,
        )

        await db.migrate(pool, "aggregation", SERVICES / "aggregation" / "migrations")
        assert list(await store.load_return_states(pool, 2022)) == [("pudong", "W1")]
        assert list(await store.load_return_states(pool, 2023)) == [("samr", "W1")]
        assert [a["alert_id"] for a in await store.latest_alerts(pool, 50, 2022)] == ["a1"]
        assert await store.latest_alerts(pool, 50, 2023) == []
    finally:
        await pool.close()
