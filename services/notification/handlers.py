"""Consumes verdicts and returns; raises the alerts they call for and publishes them."""
from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from services.notification import alerts
from shared import topics
from shared.clock import CampaignClock
from shared.events import ReportValidated, decode
from shared.kafka import publish

log = logging.getLogger(__name__)


class VerdictHandler:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, clock: CampaignClock):
        self.pool, self.producer, self.clock = pool, producer, clock

    async def __call__(self, records) -> None:
        keyed = []
        for record in records:
            try:
                verdict = decode(ReportValidated, record.value)
            except (ValidationError, ValueError) as exc:
                log.error("undecodable verdict at %s/%s: %s", record.partition, record.offset, exc)
                continue
            if verdict.verdict == "rejected":
                keyed.append(alerts.rejection_alert(verdict, self.clock.now()))
        fresh = await alerts.raise_alerts(self.pool, keyed)
        await asyncio.gather(*[await publish(self.producer, topics.ALERTS_RAISED, a) for a in fresh])
        await alerts.mark_emitted(self.pool, fresh)
