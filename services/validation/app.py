"""Composition root of the validation service: settings, catalogue, connections, the inbox, HTTP."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.validation import catalogue, handlers, inputs, telemetry
from services.validation.catalogue import load_catalogue
from services.validation.rules import RuleContext
from shared import auth, db, inbox, kafka
from shared.epoch import BrokerEpoch, watch_broker_resets
from shared.runner import bounded, serve, stop_tasks
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "validation"
MIGRATIONS = Path(__file__).parent / "migrations"


class ValidationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    # Up to 5,000 records a batch: per-batch round trips and commits are the cost at a deadline rush
    # (issue 13: 0.60 -> 0.50 ms of CPU per report and 1.8x the rate with 500-report requests).
    batch_size: int = 5000
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
        await inbox.migrate(state.pool)
        await auth.migrate(state.pool)  # the shared tables, the audit trail among them
        await catalogue.audit_change(state.pool, ctx.catalogue, settings.rules_file)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        state.epoch = BrokerEpoch(settings)
        state.inbox = inputs.inbox(settings, state.pool, state.producer, state.epoch, ctx, settings.batch_size)
        state.tasks = [
            asyncio.create_task(state.epoch.watch(), name="broker-epoch"),
            asyncio.create_task(state.inbox.run(), name="inbox"),
            asyncio.create_task(watch_broker_resets(settings, SERVICE, lambda: _republish(state)), name="resets"),
        ]
        try:
            yield
        finally:
            await stop_tasks(state.tasks)
            await bounded(state.epoch.close(), "broker epoch clients")
            await bounded(state.producer.stop(), "kafka producer stop")
            await db.close_pool(state.pool)

    def ready() -> bool:
        return not any(t.done() for t in app.state.tasks) and app.state.inbox.ready()

    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"stream": ready},
        bootstrap_servers=settings.kafka_bootstrap_servers, refused=telemetry.REFUSED,
    )
    app.state.rules = ctx
    return app


async def _republish(state) -> None:
    telemetry.REPLAYED.inc(await handlers.republish(state.pool, state.producer))


def main() -> None:
    settings = ValidationSettings()
    serve(create_app(settings), settings, settings.port)
