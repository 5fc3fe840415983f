"""Two campaigns' returns and alerts on one database: period ids (W1, ...) and alert dedup keys repeat
every year, yet the 2023 notification and aggregation services see none of 2022's filings, states,
alerts or deliveries, raise 2023's alerts in full, and 2022 reads as it was when it runs again."""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import yaml

from deploy.embedded import free_port
from deploy.season import schedule_for
from services.aggregation.visibility import View
from services.notification.app import NotificationSettings
from shared import db, kafka, topics
from shared.events import ReturnFiled
from shared.refdata import load_campaign, units
from tests.integration.test_aggregation_service import configure, running, send, tokens, until
from tests.integration.test_notification_deadlines import running as running_notification, w1_only_campaign

OFFICE, PUDONG = View("office", "office"), View("unit", "pudong")


def w1_of_2023(tmp_path: Path) -> Path:
    """The 2023 campaign (the 2022 schedule moved a year on), reduced to its first weekly return."""
    raw = schedule_for(2023)
    raw["periods"] = [p for p in raw["periods"] if p["id"] == "W1"]
    path = tmp_path / "campaign-2023-w1.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@asynccontextmanager
async def campaign_running(monkeypatch, broker, database_url, tmp_path, campaign_file: Path, now: datetime):
    """Notification and aggregation in-process on one campaign file, the campaign clock at `now`;
    pudong's webhook answers nothing, so its deliveries keep being retried (every 0.2 s)."""
    monkeypatch.setenv("QM_CAMPAIGN_FILE", str(campaign_file))
    monkeypatch.setenv("QM_CLOCK_START", now.isoformat())
    aggregation = configure(monkeypatch, broker, database_url, tmp_path)
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(
        f'units:\n  pudong: {{webhook: {{url: "http://127.0.0.1:{free_port()}/down", secret: "pudong-secret-0123456789"}}}}\n',
        encoding="utf-8",
    )
    notification = NotificationSettings(
        webhooks_file=str(contacts), delivery_max_attempts=1000, delivery_backoff_s=0.1, delivery_backoff_max_s=0.2
    )
    async with running_notification(notification) as (_, client):
        await until(lambda: client.get("/readyz"), lambda r: r.status_code == 200, "notification ready", timeout=60)
        async with running(aggregation) as (aggregation_app, _):
            yield client, aggregation_app.state.live


async def test_a_2023_campaign_sees_none_of_2022s_returns_and_alerts(monkeypatch, broker, database_url, tmp_path):
    file_2022, file_2023 = w1_only_campaign(tmp_path), w1_of_2023(tmp_path)
    due_2022, due_2023 = load_campaign(file_2022).period("W1").due_at, load_campaign(file_2023).period("W1").due_at
    office = {"Authorization": f"Bearer {(await tokens(database_url))['office']}"}
    everyone = len(units())
    run = partial(campaign_running, monkeypatch, broker, database_url, tmp_path)

    async def get(client, path, **params):
        return (await client.get(path, params=params, headers=office)).json()

    async def deliveries_to_pudong(client):
        return [d for d in (await get(client, "/v1/deliveries"))["deliveries"] if d["recipient"] == "pudong"]

    # 2022: samr files W1 on time; the clock starts an hour past the deadline, so the others are overdue.
    settings = configure(monkeypatch, broker, database_url, tmp_path)
    await kafka.ensure_topics(settings)
    filed = ReturnFiled(received_at=time.time(), campaign_time=due_2022 - timedelta(days=1), unit_id="samr", period_id="W1")
    await send(settings, topics.RETURNS_FILED, [filed])
    async with run(file_2022, due_2022 + timedelta(hours=1)) as (client, live):
        overdue_2022 = await until(
            lambda: get(client, "/v1/alerts", kind="overdue", limit=1000), lambda a: len(a["alerts"]) == everyone - 1, "2022 overdue alerts"
        )
        [pudong_2022] = [a for a in overdue_2022["alerts"] if a["unit_id"] == "pudong"]
        assert (await client.post(f"/v1/alerts/{pudong_2022['id']}/ack", headers=office)).status_code == 200
        await until(reading(lambda: live.snapshot(OFFICE)["completeness"]["W1"]),
                    lambda c: c["filed_on_time"] == 1 and c["overdue"] == everyone - 1, "2022 board")
        await until(reading(lambda: live.snapshot(PUDONG)["alerts"]), lambda a: len(a) == 1, "2022 feed")
        [delivery_2022] = await until(lambda: deliveries_to_pudong(client), lambda d: d and d[0]["attempts"] > 0, "2022 delivery tried")

    # 2023 on the same database and a new, empty broker (notification replays what it holds to it).
    broker.stop()
    broker.start()
    async with run(file_2023, due_2023 - timedelta(days=10)) as (client, live):
        attempts = await _attempts(database_url, delivery_2022["delivery_id"])
        returns = (await get(client, "/v1/returns/status"))["returns"]
        assert len(returns) == everyone and {(r["status"], r["due_at"], r["filed_at"]) for r in returns} == {
            ("not_due", due_2023.isoformat(), None)
        }
        assert (await get(client, "/v1/alerts"))["alerts"] == []
        assert (await client.post(f"/v1/alerts/{pudong_2022['id']}/ack", headers=office)).status_code == 404
        assert await deliveries_to_pudong(client) == []
        board = await until(reading(lambda: live.board.board), lambda b: len(b) == everyone, "2023 board")
        assert {s.due_at for s in board.values()} == {due_2023}
        snapshot = live.snapshot(OFFICE)
        assert snapshot["completeness"]["W1"] == {
            "expected": everyone, "filed_on_time": 0, "filed_late": 0, "overdue": 0, "not_yet": everyone, "rate": 0.0
        }
        assert snapshot["alerts"] == []

    async with run(file_2023, due_2023 + timedelta(hours=1)) as (client, live):
        # Every unit is overdue, samr too (its 2022 filing does not count), and pudong's 2022 dedup
        # key 'overdue:pudong:W1' does not hold back its 2023 alert.
        overdue_2023 = await until(
            lambda: get(client, "/v1/alerts", kind="overdue", limit=1000), lambda a: len(a["alerts"]) == everyone, "2023 overdue alerts"
        )
        [pudong_2023] = [a for a in overdue_2023["alerts"] if a["unit_id"] == "pudong"]
        assert pudong_2023["acked"] is False and pudong_2023["data"]["due_at"] == due_2023.isoformat()
        assert {r["status"] for r in (await get(client, "/v1/returns/status"))["returns"]} == {"overdue"}
        assert [d["alert_id"] for d in await until(lambda: deliveries_to_pudong(client), bool, "2023 delivery")] == [pudong_2023["id"]]
        await until(reading(lambda: live.snapshot(OFFICE)["completeness"]["W1"]),
                    lambda c: c["overdue"] == everyone and c["filed_on_time"] == 0, "2023 board overdue")
        feed = await until(reading(lambda: live.snapshot(PUDONG)["alerts"]), bool, "2023 feed")
        assert [a["id"] for a in feed] == [pudong_2023["id"]]
        # 2022's pending delivery waits for its own campaign: not tried once in 2023.
        assert await _attempts(database_url, delivery_2022["delivery_id"]) == attempts

    # 2022 again: everything as it was, and nothing raised twice.
    async with run(file_2022, due_2022 + timedelta(hours=2)) as (client, live):
        alerts = (await get(client, "/v1/alerts", limit=1000))["alerts"]
        assert sorted(a["id"] for a in alerts) == sorted(a["id"] for a in overdue_2022["alerts"])
        assert next(a for a in alerts if a["id"] == pudong_2022["id"])["acked"] is True
        samr = next(r for r in (await get(client, "/v1/returns/status"))["returns"] if r["unit_id"] == "samr")
        assert samr["status"] == "filed_on_time" and samr["filed_at"] == filed.campaign_time.isoformat()
        assert live.snapshot(OFFICE)["completeness"]["W1"]["filed_on_time"] == 1
        assert [a["id"] for a in live.snapshot(PUDONG)["alerts"]] == [pudong_2022["id"]]
        assert [d["alert_id"] for d in await deliveries_to_pudong(client)] == [pudong_2022["id"]]


def reading(read):
    """`until`'s fetch for what the test reads in-process."""
    async def fetch():
        return read()
    return fetch


async def _attempts(database_url: str, delivery_id: str) -> int:
    pool = await db.create_pool(database_url)
    try:
        return await pool.fetchval("SELECT attempts FROM deliveries WHERE delivery_id = $1", delivery_id)
    finally:
        await pool.close()
