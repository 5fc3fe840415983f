"""Composition root of the notification service: settings, connections, consumers, scheduler,
delivery worker and HTTP."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import Field

from services.notification import contacts, handlers, metrics, office
from services.notification.delivery import Deliverer, DeliveryConfig
from services.notification.handlers import EventHandler
from services.notification.outbox import Outbox
from services.notification.routes import router
from services.notification.scheduler import Scheduler
from shared import auth, db, inbox, kafka
from shared.epoch import BrokerEpoch, watch_broker_resets
from shared.refdata import units
from shared.runner import bounded, serve, stop_tasks
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "notification"
MIGRATIONS = Path(__file__).parent / "migrations"


class NotificationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    webhooks_file: Path | None = None  # QM_NOTIFICATION_WEBHOOKS_FILE: per-unit webhook and e-mail (contacts.py)
    smtp_host: str | None = None  # no host: no e-mail
    smtp_port: int = 25
    smtp_from: str = "quality-month@localhost"
    delivery_max_attempts: int = Field(6, ge=1)  # then the delivery is dead (status 'dead')
    delivery_backoff_s: float = Field(2.0, gt=0)  # first retry after this, doubling each time
    delivery_backoff_max_s: float = Field(600.0, gt=0)
    delivery_timeout_s: float = Field(5.0, gt=0)
    tick_max_s: float = Field(1.0, gt=0)  # the scheduler looks at the clock at least this often (real seconds)
    # QM_NOTIFICATION_FETCH_WAIT_MS: how long a filing may wait on the broker; 500 ms is 14 campaign
    # hours at a 100,000x test clock, longer than a reminder's margin there.
    fetch_wait_ms: int = Field(500, ge=1)

    def channels(self) -> tuple[str, ...]:
        return ("webhook", "email") if self.smtp_host else ("webhook",)

    def delivery(self) -> DeliveryConfig:
        return DeliveryConfig(
            self.delivery_max_attempts, self.delivery_backoff_s, self.delivery_backoff_max_s, self.delivery_timeout_s,
            self.smtp_host, self.smtp_port, self.smtp_from,
        )


def create_app(settings: NotificationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.clock, state.campaign = settings.clock(), settings.campaign()
        book = contacts.load(settings.webhooks_file) if settings.webhooks_file else None
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await inbox.migrate(state.pool)
        if book is not None:
            await contacts.seed(state.pool, book)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        http = httpx.AsyncClient()
        outbox = Outbox(state.pool, state.producer, state.campaign.year)
        deliverer = Deliverer(state.pool, settings.delivery(), http, state.campaign.year)
        state.wake_deliveries = deliverer.wake.set
        state.scheduler = scheduler = Scheduler(
            state.pool, outbox, state.clock, state.campaign, units(), settings.channels(),
            on_alerts=deliverer.wake.set, max_sleep_s=settings.tick_max_s,
        )
        handler = EventHandler(
            outbox, state.clock, state.campaign, scheduler, settings.channels(), on_alerts=deliverer.wake.set
        )
        state.epoch = BrokerEpoch(settings)
        state.inbox = handlers.inbox(settings, state.pool, state.producer, state.epoch, handler, settings.fetch_wait_ms)
        state.caught_up = state.inbox.caught_up
        tasks = [
            asyncio.create_task(state.epoch.watch(), name="broker-epoch"),
            asyncio.create_task(state.inbox.run(), name="events"),
            asyncio.create_task(scheduler.run(state.caught_up), name="deadlines"),
            asyncio.create_task(deliverer.run(), name="deliveries"),
            asyncio.create_task(watch_broker_resets(settings, SERVICE, outbox.replay), name="broker-resets"),
        ]
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await bounded(state.epoch.close(), "broker epoch clients")
            await bounded(state.producer.stop(), "kafka producer stop")
            await http.aclose()
            await db.close_pool(state.pool)

    def ready() -> bool:
        return app.state.caught_up.is_set() and app.state.scheduler.ticks > 0

    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"deadlines": ready}, bootstrap_servers=settings.kafka_bootstrap_servers,
        refused=metrics.REFUSED,
    )
    app.include_router(router)
    app.include_router(office.router)
    return app


def main() -> None:
    settings = NotificationSettings()
    serve(create_app(settings), settings, settings.port)
