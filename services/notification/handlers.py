"""Consumes verdicts, filings and totals; records filings and raises the alerts they call for."""
from __future__ import annotations

import logging

import asyncpg
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from services.notification import alerts, metrics, milestones, offsets, returns_store
from services.notification.outbox import Outbox
from services.notification.scheduler import Scheduler
from shared import topics
from shared.clock import CampaignClock
from shared.events import ReportSentBack, ReportValidated, ReturnFiled, TotalsChanged, decode
from shared.refdata import Campaign, metrics as metric_catalogue, units

log = logging.getLogger(__name__)
TOPICS = (topics.REPORTS_VALIDATED, topics.REPORTS_SENT_BACK, topics.RETURNS_FILED, topics.TOTALS_CHANGED)
_BY_NAME = {spec.name: spec for spec in TOPICS}


class EventHandler:
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, clock: CampaignClock, campaign: Campaign, scheduler: Scheduler,
        channels: tuple[str, ...], on_alerts=lambda: None,
    ):
        self.pool, self.outbox, self.clock, self.campaign, self.scheduler = pool, outbox, clock, campaign, scheduler
        self.channels, self.on_alerts = channels, on_alerts

    async def __call__(self, records) -> None:
        planned, filings = [], []
        for record in records:
            spec = _BY_NAME.get(record.topic)
            try:
                event = decode(spec.value_type, record.value)  # type: ignore[union-attr]
            except (ValidationError, ValueError, AttributeError) as exc:
                log.error("undecodable record on %s at %s/%s: %s", record.topic, record.partition, record.offset, exc)
                continue
            if isinstance(event, ReportValidated) and event.verdict == "rejected":
                planned.append(alerts.rejection_alert(event))
            elif isinstance(event, ReportSentBack):
                planned.append(alerts.sent_back_alert(event))
            elif isinstance(event, ReturnFiled):
                if event.unit_id in units() and self.campaign.owes(event.unit_id, event.period_id) and self.campaign.period(event.period_id):
                    filings.append(event)
                else:
                    log.warning("ignoring a return nobody owes: %s/%s", event.unit_id, event.period_id)
            elif isinstance(event, TotalsChanged):
                planned += milestones.crossed(self.campaign.milestones, event.totals, metric_catalogue())
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            if filings:
                await returns_store.record_filings(conn, filings)
            fresh = await alerts.insert(conn, planned, now, self.channels)
            await offsets.save(conn, records)
        for alert in fresh:
            metrics.ALERTS.labels(alert.kind).inc()
        if fresh:
            self.on_alerts()
            await self.outbox.flush()
        if filings:
            self.scheduler.poke.set()


async def consume(consumer: AIOKafkaConsumer, handle, caught_up) -> None:
    """Read loop (`handle` stores positions with its effects, see offsets.py) that also sets
    `caught_up` the first time the consumer has read everything its partitions held."""
    while True:
        fetched = await consumer.getmany(timeout_ms=200, max_records=1000)
        records = [r for batch in fetched.values() for r in batch]
        if records:
            await handle(records)
        elif not caught_up.is_set() and (assigned := list(consumer.assignment())):
            ends = await consumer.end_offsets(assigned)
            if all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                caught_up.set()
