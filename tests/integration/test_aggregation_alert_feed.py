"""The stream snapshot's alerts against real PostgreSQL: each viewer gets ITS newest 50 (filtered
before cut, issue 16), milestones stay for every role, and a restart (load) shows the same."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.aggregation.feeds import AlertFeed
from services.aggregation.visibility import View
from shared import db
from shared.events import AlertRaised
from shared.refdata import units

T0 = datetime(2022, 9, 8, tzinfo=timezone.utc)
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "aggregation" / "migrations"


def _alert(n: int, unit_id: str | None, kind: str = "overdue") -> AlertRaised:
    at = T0 + timedelta(minutes=n)
    return AlertRaised(
        received_at=time.time(), campaign_time=at, alert_id=f"a-{n:04d}", kind=kind, unit_id=unit_id,
        period_id=None if unit_id is None else "W1", raised_at=at, message_zh="提醒", message_en="alert",
    )


async def test_each_viewer_gets_its_own_newest_alerts_and_milestones_stay(database_url):
    pool = await db.create_pool(database_url)
    try:
        await db.migrate(pool, "aggregation", MIGRATIONS)
        feed = AlertFeed(pool, 2022)
        others = [u for u, unit in units().items() if u != "pudong" and unit.district_id != "pudong"]
        # Oldest first: a milestone, pudong's 17 alerts, then 60 newer alerts of other units.
        events = [_alert(0, None, "milestone")] + [_alert(1 + i, "pudong") for i in range(17)]
        events += [_alert(100 + i, others[i % len(others)]) for i in range(60)]
        for i in range(0, len(events), 10):
            async with pool.acquire() as conn, conn.transaction():
                await feed.store(conn, events[i : i + 10])
            await feed.reload()

        restarted = AlertFeed(pool, 2022)
        await restarted.load()
        for current in (feed, restarted):
            unit = [a["id"] for a in current.visible(View("unit", "pudong"))]
            assert unit == [f"a-{n:04d}" for n in range(17, -1, -1)]  # all 17, newest first, then the milestone
            district = current.visible(View("district", "pudong"))
            assert [a["id"] for a in district] == unit  # pudong is a unit of the pudong district
            office = [a["id"] for a in current.visible(View("office", "office"))]
            assert len(office) == 50 and office[0] == "a-0159" and "a-0000" not in office
            stranger = [a["id"] for a in current.visible(View("unit", others[0]))]
            assert stranger[-1] == "a-0000" and all(a["unit_id"] in (others[0], None) for a in current.visible(View("unit", others[0])))
    finally:
        await pool.close()
