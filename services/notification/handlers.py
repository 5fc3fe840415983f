"""Consumes verdicts, filings, totals and dead letters; records filings and raises the alerts they call for."""
from __future__ import annotations

import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from services.notification import alerts, metrics, milestones, returns_store, stalls
from services.notification.outbox import Outbox
from services.notification.scheduler import Scheduler
from shared import topics
from shared.clock import CampaignClock
from shared.epoch import BrokerEpoch
from shared.events import DeadLettered, ReportSentBack, ReportValidated, ReturnFiled, TotalsChanged
from shared.inbox import Delivery, Inbox
from shared.refdata import Campaign, metrics as metric_catalogue, units
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
GROUP = "notification"
TOPICS = (topics.REPORTS_REJECTED, topics.REPORTS_SENT_BACK, topics.RETURNS_FILED, topics.TOTALS_CHANGED, *topics.DEAD_LETTERS.values())
_DEAD_LETTERS = {spec.name: service for service, spec in topics.DEAD_LETTERS.items()}


class EventHandler:
    """The inbox handler: records filings and raises the alerts events call for, in the inbox's
    transaction; after it commits, publishes them and wakes the scheduler and the deliveries."""

    def __init__(
        self, outbox: Outbox, clock: CampaignClock, campaign: Campaign, scheduler: Scheduler,
        channels: tuple[str, ...], on_alerts=lambda: None,
    ):
        self.outbox, self.clock, self.campaign, self.scheduler = outbox, clock, campaign, scheduler
        self.channels, self.on_alerts = channels, on_alerts

    async def __call__(self, conn: asyncpg.Connection, deliveries: list[Delivery]):
        planned, filings = [], []
        for d in deliveries:
            event = d.event
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
            elif isinstance(event, DeadLettered) and d.topic in _DEAD_LETTERS:
                planned.append(stalls.dead_letter_alert(_DEAD_LETTERS[d.topic], event))
        if filings:
            await returns_store.record_filings(conn, self.campaign.year, filings)
        fresh = await alerts.insert(conn, self.campaign.year, planned, self.clock.now(), self.channels)
        return fresh, bool(filings)

    async def after_commit(self, result) -> None:
        fresh, filed = result
        for alert in fresh:
            metrics.ALERTS.labels(alert.kind).inc()
        if fresh:
            self.on_alerts()
            await self.outbox.flush()
        if filed:
            self.scheduler.poke.set()


def inbox(
    settings: CommonSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, epoch: BrokerEpoch, handler: EventHandler,
    fetch_wait_ms: int = 500,
) -> Inbox:
    return Inbox(
        GROUP, settings, pool, producer, epoch, TOPICS, handler,
        dead_letters=topics.DEAD_LETTERS["notification"], after_commit=handler.after_commit,
        # Alerts are not on the live path: a half-second fetch wait instead of 10 ms polling when idle
        # (Tansu holds every fetch that long, so a fast campaign clock needs it shorter).
        consumer_options={"fetch_max_wait_ms": fetch_wait_ms},
    )
