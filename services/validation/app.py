"""Composition root of the validation service: settings, catalogue, connections, the faust stream, HTTP."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI

from services.validation import agents, catalogue, handlers, telemetry
from services.validation.catalogue import load_catalogue
from services.validation.rules import RuleContext
from shared import auth, db, kafka
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
    # Longest wait for a batch to fill: each batch costs a few database round trips, so under load
    # bigger batches carry the throughput (measured: 5 ms gave ~100-record batches and a third of the
    # throughput of 50 ms); when quiet it is the most a report waits here.
    batch_within_ms: int = 50
    # QM_VALIDATION_RULES_FILE: a YAML merged over the packaged rules.yaml (codes, severities, messages, thresholds).
    rules_file: Path | None = None


def create_app(settings: ValidationSettings) -> FastAPI:
    # Load the catalogue here, not in the lifespan: a bad rules file stops the service at once.
    ctx = RuleContext(catalogue=load_catalogue(settings.rules_file), campaign=settings.campaign())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.pool = await db.create_pool(settings.database_url)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await auth.migrate(state.pool)  # the shared tables, the audit trail among them
        await catalogue.audit_change(state.pool, ctx.catalogue, settings.rules_file)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.stream = new_faust_app(SERVICE, settings)
        agents.register(
            state.stream, state.pool, state.producer, ctx, settings.batch_size, settings.batch_within_ms / 1000
        )
        await state.stream.start()
        state.resets = asyncio.create_task(
            kafka.watch_broker_resets(settings, SERVICE, lambda: _republish(state))
        )
        try:
            yield
        finally:
            state.resets.cancel()
            with suppress(asyncio.CancelledError):
                await state.resets
            await state.stream.stop()
            await state.producer.stop()
            await state.pool.close()

    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"stream": lambda: is_ready(app.state.stream)},
        bootstrap_servers=settings.kafka_bootstrap_servers, refused=telemetry.REFUSED,
    )
    app.state.rules = ctx
    return app


async def _republish(state) -> None:
    telemetry.REPLAYED.inc(await handlers.republish(state.pool, state.producer))


def main() -> None:
    settings = ValidationSettings()
    serve(create_app(settings), settings, settings.port)
