"""The notification service in-process against a real broker and database, with a set and
accelerated campaign clock: reminders, overdue alerts, escalations, late filings, restarts."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.notification.app import NotificationSettings, create_app
from shared import auth, topics
from shared.events import ReturnFiled, decode
from shared.kafka import ensure_topics, publish
from shared.refdata import load_campaign, units
from tests import helpers

CAMPAIGN = load_campaign()
DUE = CAMPAIGN.period("W1").due_at
SPEED = 100_000.0  # campaign seconds per real second: the 24 h reminder window lasts 0.86 s
START_MARGIN_S = 1.0  # real seconds between the clock's release and the reminder window


def w1_only_campaign(tmp_path: Path) -> Path:
    """The 2022 campaign reduced to its first weekly return (the domain itself is not shrunk)."""
    text = Path("shared/data/campaign-2022.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("  - {id:") or "id: W1," in line]
    path = tmp_path / "campaign-w1.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [p.period_id for p in load_campaign(path).periods] == ["W1"]
    return path


class HeldTime:
    """Real time for a campaign clock that stands still until `release()`, so the timeline starts
    once the service is ready, however long a loaded machine takes to start it."""

    def __init__(self) -> None:
        self.anchor, self.released_at = time.time(), None

    def __call__(self) -> float:
        return self.anchor if self.released_at is None else self.anchor + time.time() - self.released_at

    def release(self) -> None:
        self.released_at = time.time()


def settings_for(broker, database_url, **extra) -> NotificationSettings:
    return NotificationSettings(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, DATABASE_URL=database_url, **extra)


@asynccontextmanager
async def running(settings: NotificationSettings):
    """The service in-process: its app (started) and an HTTP client of it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notification"
    ) as client:
        yield app, client


def before_any_deadline(broker, database_url, tmp_path: Path):
    """`running` on W1 only, its clock before any deadline: it raises no alert of its own."""
    return running(settings_for(broker, database_url, QM_CAMPAIGN_FILE=str(w1_only_campaign(tmp_path)),
                                QM_CLOCK_START="2022-08-01T08:00:00+08:00"))


eventually = partial(helpers.eventually, timeout=20, interval=0.1)


async def read_topic(bootstrap: str, spec: topics.TopicSpec) -> list:
    """Everything on a topic now, decoded (no consumer group: reads from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        parts = [TopicPartition(spec.name, p) for p in (consumer.partitions_for_topic(spec.name) or set())]
        if not parts:
            await consumer._client.force_metadata_update()  # topic created after start
            parts = [TopicPartition(spec.name, p) for p in (consumer.partitions_for_topic(spec.name) or set())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                out += [decode(spec.value_type, r.value) for r in batch]
        return out
    finally:
        await consumer.stop()


async def file_return(producer: AIOKafkaProducer, clock, unit_id: str, period_id: str = "W1") -> ReturnFiled:
    """What the submission service publishes for `POST /v1/returns` (it is the topic's producer)."""
    event = ReturnFiled(received_at=time.time(), campaign_time=clock.now(), unit_id=unit_id, period_id=period_id)
    await (await publish(producer, topics.RETURNS_FILED, event))
    return event


async def test_on_time_reminded_overdue_escalated_late_and_a_restart_raises_nothing_twice(
    broker, database_url, tmp_path, monkeypatch
):
    campaign_file = w1_only_campaign(tmp_path)
    held = HeldTime()
    settings = settings_for(
        broker, database_url,
        QM_CAMPAIGN_FILE=str(campaign_file), QM_CLOCK_SPEED=SPEED, QM_CLOCK_ANCHOR=held.anchor,
        QM_CLOCK_START=(DUE - CAMPAIGN.reminder_before - timedelta(seconds=START_MARGIN_S * SPEED)).isoformat(),
    )
    clock = replace(settings.clock(), real_time=held)
    monkeypatch.setattr(NotificationSettings, "clock", lambda self: clock)  # the service's clock is this one
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        # samr files long before its deadline, even before the service runs: it must hear nothing.
        await ensure_topics(settings)
        on_time = await file_return(producer, clock, "samr")
        async with running(settings) as (app, client):
            office = {"Authorization": f"Bearer {await auth.issue_token(app.state.pool, 'office', 'office')}"}
            await eventually(lambda: _ready(client), what="service ready")
            held.release()

            async def alerts_of(unit, kind=None):
                params = {"unit_id": unit} | ({"kind": kind} if kind else {})
                return (await client.get("/v1/alerts", params=params, headers=office)).json()["alerts"]

            async def status_of(unit):
                rows = (await client.get("/v1/returns/status", params={"period_id": "W1"}, headers=office)).json()["returns"]
                return next(r for r in rows if r["unit_id"] == unit)

            samr = await status_of("samr")
            assert samr["status"] == "filed_on_time" and samr["filed_at"] == on_time.campaign_time.isoformat()
            assert (await status_of("pudong"))["status"] == "not_due"
            # huangpu stays silent: reminder, then overdue at the deadline, then escalation.
            await eventually(lambda: alerts_of("huangpu", "reminder"), what="a reminder for huangpu")
            assert (await status_of("huangpu"))["status"] == "not_due"
            await eventually(lambda: alerts_of("pudong", "overdue"), what="an overdue alert for pudong")
            assert clock.now() >= DUE
            late = await file_return(producer, clock, "pudong")  # pudong files after the deadline
            escalation = (await eventually(lambda: alerts_of("huangpu", "escalation"), what="an escalation"))[0]
            assert clock.now() >= DUE + CAMPAIGN.escalation_after
            pudong = await eventually(
                lambda: _with_status(status_of("pudong"), "filed_late"), what="pudong filed late"
            )
            assert pudong["filed_at"] == late.campaign_time.isoformat()
            huangpu = await status_of("huangpu")
            assert huangpu["status"] == "overdue" and huangpu["escalated"] is True

            assert await alerts_of("samr") == []
            assert [a["kind"] for a in reversed(await alerts_of("huangpu"))] == ["reminder", "overdue", "escalation"]
            assert escalation["message_zh"].startswith("督办：黄浦区第一周报表")
            assert escalation["data"]["recipients"] == ["huangpu", "office"]
            samr_escalation = (await alerts_of("ndrc", "escalation"))[0]
            assert samr_escalation["data"]["recipients"] == ["office"]
            # Acknowledge: once, by the caller; a unit cannot ack another unit's alert.
            acked = (await client.post(f"/v1/alerts/{escalation['id']}/ack", headers=office)).json()
            assert acked["acked"] is True and acked["acked_by"] == "office"
            assert (await client.get("/v1/alerts", params={"unit_id": "huangpu", "acked": "true"}, headers=office)).json()["alerts"][0]["id"] == escalation["id"]
            samr_token = {"Authorization": f"Bearer {await auth.issue_token(app.state.pool, 'samr')}"}
            denied = await client.post(f"/v1/alerts/{escalation['id']}/ack", headers=samr_token)
            assert denied.status_code == 404 and denied.json()["issues"][0]["code"] == "not_found"
            own = (await client.get("/v1/returns/status", headers=samr_token)).json()["returns"]
            assert [(r["unit_id"], r["status"]) for r in own] == [("samr", "filed_on_time")]
            bad = await client.get("/v1/returns/status", params={"period_id": "W9"}, headers=office)
            assert bad.status_code == 422 and bad.json()["issues"][0]["field"] == "period_id"
            assert (await client.get("/v1/alerts", headers={})).status_code == 401
            metrics_text = (await client.get("/metrics")).text
            assert 'qm_notification_alerts_total{kind="escalation"}' in metrics_text
            assert f"qm_notification_overdue_returns {len(units()) - 2}.0" in metrics_text
            before_restart = await client.get("/v1/alerts", params={"limit": 1000}, headers=office)

        # Every unit but samr and pudong: a reminder, an overdue alert and an escalation, once each.
        raised = await read_topic(broker.bootstrap, topics.ALERTS_RAISED)
        per_key = Counter((a.kind, a.unit_id, a.period_id) for a in raised)
        assert set(per_key.values()) == {1}
        assert len(raised) == 3 * (len(units()) - 2) + 2  # pudong: reminder and overdue only
        statuses = await read_topic(broker.bootstrap, topics.RETURNS_STATUS)
        assert [(s.previous, s.status) for s in statuses if s.unit_id == "pudong"] == [
            (None, "not_due"), ("not_due", "overdue"), ("overdue", "filed_late")
        ]
        assert [s.status for s in statuses if s.unit_id == "samr"] == ["not_due", "filed_on_time"]

        # A restart with the same database and broker (and a repeated filing) raises nothing again.
        await file_return(producer, clock, "samr")
        async with running(settings) as (app, client):
            await eventually(lambda: _ready(client), what="restarted service ready")
            ticks = app.state.scheduler.ticks
            await eventually(lambda: _at_least(app.state.scheduler, ticks + 2), what="two more scheduler ticks")
            after = await client.get("/v1/alerts", params={"limit": 1000}, headers=office)
            assert after.json() == before_restart.json()
            assert len(await read_topic(broker.bootstrap, topics.ALERTS_RAISED)) == len(raised)
            assert len(await read_topic(broker.bootstrap, topics.RETURNS_STATUS)) == len(statuses)

            # The memory-only broker restarts and forgets: every current state and alert is replayed.
            await asyncio.to_thread(broker.stop)
            await asyncio.to_thread(broker.start)
            replayed = await eventually(
                lambda: _at_least_n(read_topic(broker.bootstrap, topics.RETURNS_STATUS), len(units())),
                timeout=30, what="return states replayed after a broker reset",
            )
            current = {s.unit_id: s.status for s in replayed}
            assert current["samr"] == "filed_on_time" and current["pudong"] == "filed_late" and current["huangpu"] == "escalated"
            assert len(replayed) == len(units())
            again = await eventually(
                lambda: _at_least_n(read_topic(broker.bootstrap, topics.ALERTS_RAISED), len(raised)), what="alerts replayed"
            )
            assert sorted(a.alert_id for a in again) == sorted(a.alert_id for a in raised)
    finally:
        await producer.stop()


async def _with_status(row_awaitable, status):
    row = await row_awaitable
    return row if row["status"] == status else None


async def _at_least_n(items_awaitable, n):
    try:
        items = await items_awaitable
    except Exception:  # the broker is still coming back
        return None
    return items if len(items) >= n else None


async def _ready(client):
    return (await client.get("/readyz")).status_code == 200


async def _at_least(scheduler, ticks):
    return scheduler.ticks >= ticks
