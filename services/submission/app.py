"""Composition root of the submission service: settings, connections, relay, followers and HTTP app."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from services.submission import importing, metrics, reading, sending_back, verdicts
from services.submission.metrics import OutcomeCounter
from services.submission.outbox import OutboxRelay
from services.submission.ratelimit import SharedBuckets
from services.submission.routes import router
from shared import auth, db, inbox, kafka, topics
from shared.epoch import BrokerEpoch, watch_broker_resets
from shared.runner import bounded, serve, stop_tasks
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "submission"
MIGRATIONS = Path(__file__).parent / "migrations"


class SubmissionSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    # Per unit; generous: 10,000 reports/s in 500-report batches is 20 requests/s for one unit.
    rate_per_s: float = Field(20.0, gt=0)
    rate_burst: float = Field(40.0, ge=1)
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    relay_batch_size: int = Field(2000, ge=1)
    pool_size: int = Field(10, ge=2)


def create_app(settings: SubmissionSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings, state.clock, state.campaign = settings, settings.clock(), settings.campaign()
        state.pool = await db.create_pool(settings.database_url, max_size=settings.pool_size)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        state.limiter = SharedBuckets(state.pool, settings.rate_per_s, settings.rate_burst)
        await inbox.migrate(state.pool)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.relay = OutboxRelay(
            state.pool, state.producer, settings.kafka_bootstrap_servers, topics.epoch_marker(SERVICE), settings.relay_batch_size
        )
        state.epoch = BrokerEpoch(settings)
        state.verdicts = verdicts.inbox(settings, state.pool, state.producer, state.epoch)
        tasks = [
            asyncio.create_task(state.relay.run(), name="outbox-relay"),
            asyncio.create_task(watch_broker_resets(settings, SERVICE, state.relay.requeue_after_reset), name="broker-resets"),
            asyncio.create_task(state.epoch.watch(), name="broker-epoch"),
            asyncio.create_task(state.verdicts.run(), name="verdicts"),
        ]
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await bounded(state.epoch.close(), "broker epoch clients")
            await bounded(state.relay.close(), "outbox relay")
            await bounded(state.producer.stop(), "kafka producer stop")
            await db.close_pool(state.pool)

    # Ready without the broker: the outbox keeps accepting reports and the relay publishes them once
    # the broker is back, so a load balancer must keep sending units here through a broker outage.
    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"database": lambda: db.reachable(app.state.pool)}, refused=metrics.REFUSED
    )
    app.add_middleware(OutcomeCounter)
    app.include_router(importing.router)  # before reading: /v1/reports/template.xlsx is not a report id
    app.include_router(reading.router)
    app.include_router(sending_back.router)
    app.include_router(router)
    return app


def main() -> None:
    settings = SubmissionSettings()
    serve(create_app(settings), settings, settings.port)
