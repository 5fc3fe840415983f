"""The deadline scheduler: wakes at the next interesting campaign instant (or when a filing arrives),
runs the pure state machine over PostgreSQL state and publishes what changed."""
from __future__ import annotations

import asyncio
import logging
from typing import Mapping

import asyncpg
from aiokafka.errors import KafkaError

from services.notification import deadlines, metrics, returns_store
from services.notification.deadlines import Step
from services.notification.outbox import Outbox
from shared.clock import CampaignClock
from shared.refdata import Campaign, Unit

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, clock: CampaignClock, campaign: Campaign, units: Mapping[str, Unit],
        channels: tuple[str, ...], on_alerts=lambda: None, max_sleep_s: float = 1.0,
    ):
        self.pool, self.outbox, self.clock, self.campaign, self.units = pool, outbox, clock, campaign, units
        self.channels, self.on_alerts, self.max_sleep_s = channels, on_alerts, max_sleep_s
        self.poke = asyncio.Event()  # set by the consumer when a filing arrives
        self.ticks = 0

    async def tick(self) -> Step:
        now = self.clock.now()
        step, fresh = await returns_store.evaluate(
            self.pool, self.campaign.year, lambda states, filings: deadlines.advance(self.campaign, self.units, now, states, filings), now, self.channels
        )
        for alert in fresh:
            metrics.ALERTS.labels(alert.kind).inc()
        if fresh:
            self.on_alerts()
        metrics.OVERDUE.set(await returns_store.overdue_count(self.pool, self.campaign.year))
        await self.outbox.flush()
        self.ticks += 1
        return step

    async def run(self, start: asyncio.Event) -> None:
        """Starts once `start` is set (the filings backlog is read), so nobody is declared overdue
        for a return whose filing is still waiting on the broker."""
        await start.wait()
        while True:
            self.poke.clear()
            next_at = None
            try:
                next_at = (await self.tick()).next_at
            except (OSError, asyncpg.PostgresError, KafkaError, asyncio.TimeoutError) as exc:
                log.warning("deadline tick failed (%s); retrying", exc)
            delay = self.max_sleep_s
            if next_at is not None:
                delay = max(0.0, min(delay, self.clock.real_seconds_until(next_at)))
            try:
                await asyncio.wait_for(self.poke.wait(), delay)
            except asyncio.TimeoutError:
                pass
