"""GET /v1/alerts pages with a cursor: following `next` reads every visible alert exactly once,
newest first, even when many share one instant."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.notification import alerts
from services.notification.deadlines import PlannedAlert
from shared import auth
from tests.integration.test_notification_deadlines import before_any_deadline


async def test_following_next_reads_every_alert_once_newest_first(broker, database_url, tmp_path):
    async with before_any_deadline(broker, database_url, tmp_path) as (app, client):
        pool = app.state.pool
        base = datetime(2022, 9, 9, 4, tzinfo=timezone.utc)
        units = ["samr", "pudong", "huangpu"]
        async with pool.acquire() as conn, conn.transaction():
            for i in range(23):
                # Groups of three share an instant: the cursor must not skip or repeat within a tie.
                planned = [PlannedAlert(f"test:{i}", "overdue", units[i % 3], "W1", f"逾期 {i}", f"overdue {i}")]
                await alerts.insert(conn, app.state.campaign.year, planned, base + timedelta(seconds=i // 3), ())
        office = await auth.issue_token(pool, "office", "office")
        pudong = await auth.issue_token(pool, "pudong", "unit")

        async def read_all(token: str, limit: int) -> list[dict]:
            seen, cursor = [], None
            while True:
                params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/v1/alerts", params=params, headers={"Authorization": f"Bearer {token}"})).json()
                assert len(page["alerts"]) <= limit
                seen += page["alerts"]
                if page["next"] is None:
                    return seen
                cursor = page["next"]

        everything = await read_all(office, 5)
        assert sorted(a["message_en"] for a in everything) == sorted(f"overdue {i}" for i in range(23))
        assert len({a["id"] for a in everything}) == 23
        assert [a["raised_at"] for a in everything] == sorted((a["raised_at"] for a in everything), reverse=True)
        one_page = (await client.get("/v1/alerts", headers={"Authorization": f"Bearer {office}"})).json()
        assert [a["id"] for a in one_page["alerts"]] == [a["id"] for a in everything] and one_page["next"] is None

        own = await read_all(pudong, 2)
        assert {a["unit_id"] for a in own} == {"pudong"} and len(own) == 8

        bad = await client.get("/v1/alerts", params={"cursor": "not-ours"}, headers={"Authorization": f"Bearer {office}"})
        assert bad.status_code == 422 and bad.json()["issues"][0]["code"] == "invalid_cursor"
