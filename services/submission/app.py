"""Composition root of the submission service: settings, connections, relay and HTTP app."""
from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.submission.outbox import OutboxRelay
from services.submission.routes import router
from shared import auth, db, kafka
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "submission"
MIGRATIONS = Path(__file__).parent / "migrations"


class SubmissionSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]


def create_app(settings: SubmissionSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings, state.clock, state.campaign = settings, settings.clock(), settings.campaign()
        state.pool = await db.create_pool(settings.database_url, max_size=10)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.relay = OutboxRelay(state.pool, state.producer)
        relay_task = asyncio.create_task(state.relay.run(), name="outbox-relay")
        try:
            yield
        finally:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
            await state.producer.stop()
            await state.pool.close()

    async def database_ready() -> bool:
        return await app.state.pool.fetchval("SELECT true")

    app = create_api(SERVICE, lifespan=lifespan, readiness={"database": database_ready})
    app.include_router(router)
    return app


def main() -> None:
    settings = SubmissionSettings()
    serve(create_app(settings), settings, settings.port)
