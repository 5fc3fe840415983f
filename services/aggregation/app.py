"""Composition root of the aggregation service: settings, connections, stream, totals, HTTP."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.aggregation import agents, screen
from services.aggregation.projection import Totals
from services.aggregation.routes import router
from shared import auth, db, kafka
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.streaming import is_ready, new_faust_app
from shared.web import create_api

SERVICE = "aggregation"
MIGRATIONS = Path(__file__).parent / "migrations"


class AggregationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    batch_size: int = 2000


def create_app(settings: AggregationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await kafka.ensure_topics(settings)
        state.stream = new_faust_app(SERVICE, settings)
        state.totals = Totals(state.stream, state.pool)
        agents.register(state.stream, state.totals, settings.batch_size)
        await state.stream.start()
        state.reconciled = asyncio.create_task(_reconcile_after_recovery(state))
        try:
            yield
        finally:
            state.reconciled.cancel()
            await state.stream.stop()
            await state.pool.close()

    def ready() -> bool:
        task = app.state.reconciled
        return is_ready(app.state.stream) and task.done() and not task.cancelled() and task.exception() is None

    app = create_api(SERVICE, lifespan=lifespan, readiness={"stream": ready})
    app.include_router(router)
    screen.mount(app)
    return app


async def _reconcile_after_recovery(state) -> None:
    # The changelog may be gone (Tansu forgets everything on restart): PostgreSQL is the truth.
    await state.stream.tables.recovery.completed.wait()
    await state.totals.reconcile()


def main() -> None:
    settings = AggregationSettings()
    serve(create_app(settings), settings, settings.port)
