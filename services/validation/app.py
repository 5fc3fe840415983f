"""Composition root of the validation service: settings, connections, the faust stream, HTTP."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.validation import agents
from shared import db, kafka
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.streaming import is_ready, new_faust_app
from shared.web import create_api

SERVICE = "validation"
MIGRATIONS = Path(__file__).parent / "migrations"


class ValidationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    batch_size: int = 1000


def create_app(settings: ValidationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.pool = await db.create_pool(settings.database_url)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.stream = new_faust_app(SERVICE, settings)
        agents.register(state.stream, state.pool, state.producer, settings.batch_size)
        await state.stream.start()
        try:
            yield
        finally:
            await state.stream.stop()
            await state.producer.stop()
            await state.pool.close()

    app = create_api(SERVICE, lifespan=lifespan, readiness={"stream": lambda: is_ready(app.state.stream)})
    return app


def main() -> None:
    settings = ValidationSettings()
    serve(create_app(settings), settings, settings.port)
