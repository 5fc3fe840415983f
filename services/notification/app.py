"""Composition root of the notification service: settings, connections, consumers, HTTP."""
from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.notification.handlers import VerdictHandler
from services.notification.routes import router
from shared import auth, db, kafka, topics
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "notification"
MIGRATIONS = Path(__file__).parent / "migrations"


class NotificationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]


def create_app(settings: NotificationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.clock, state.campaign = settings.clock(), settings.campaign()
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.consumer = kafka.new_consumer(settings, topics.REPORTS_VALIDATED, group_id=SERVICE)
        await state.consumer.start()
        handler = VerdictHandler(state.pool, state.producer, state.clock)
        task = asyncio.create_task(kafka.consume_batches(state.consumer, handler), name="verdicts")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await state.consumer.stop()
            await state.producer.stop()
            await state.pool.close()

    def ready() -> bool:
        return bool(app.state.consumer.assignment())

    app = create_api(SERVICE, lifespan=lifespan, readiness={"consumer": ready})
    app.include_router(router)
    return app


def main() -> None:
    settings = NotificationSettings()
    serve(create_app(settings), settings, settings.port)
