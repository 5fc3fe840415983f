"""Composition root of the aggregation service: settings, connections, inputs, live totals and stream, HTTP."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.aggregation import inputs, metrics, screen
from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.follow import Follower
from services.aggregation.hub import Hub
from services.aggregation.inputs import Pipeline
from services.aggregation.live import Live
from services.aggregation.projection import Totals
from services.aggregation.routes import router
from shared import auth, db, inbox, kafka
from shared.epoch import BrokerEpoch, watch_broker_resets
from shared.runner import bounded, serve, stop_tasks
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "aggregation"
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class AggregationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    batch_size: int = 5000  # per-batch costs dominate at a rush (issue 13; see validation)
    stream_interval_s: float = 0.1  # at most 10 messages per second per client
    keepalive_s: float = 15.0
    stall_after_s: float = 30.0  # records waiting and nothing processed this long: not ready


def create_app(settings: AggregationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await inbox.migrate(state.pool)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        clock, campaign = settings.clock(), settings.campaign()
        state.campaign = campaign
        state.totals = Totals(state.pool, campaign.year)
        board, feed, hub = ReturnBoard(state.pool, campaign), AlertFeed(state.pool, campaign.year), Hub()
        await board.load()
        await feed.load()
        state.follower = Follower(settings.database_url, state.totals, board, feed, hub)
        await state.follower.sync()
        state.pipe = Pipeline(state.totals, board, feed, state.follower, state.producer, clock)
        state.epoch = BrokerEpoch(settings)
        state.inbox = inputs.inbox(settings, state.pool, state.epoch, state.pipe, settings.batch_size, settings.stall_after_s)
        state.live = Live(
            state.totals, board, feed, hub, clock, campaign, settings.stream_interval_s, settings.keepalive_s,
            on_clients=metrics.STREAM_CLIENTS.set,
        )
        state.tasks = [
            asyncio.create_task(state.epoch.watch(), name="broker-epoch"),
            asyncio.create_task(state.inbox.run(), name="inputs"),
            asyncio.create_task(state.follower.run(), name="follower"),
            # A new broker (first start, or one that forgot everything): publish the totals again.
            asyncio.create_task(
                watch_broker_resets(settings, SERVICE, lambda: inputs.publish_totals(state.pipe)), name="resets"
            ),
        ]
        try:
            yield
        finally:
            await stop_tasks(state.tasks)
            await bounded(state.epoch.close(), "broker epoch clients")
            await bounded(state.producer.stop(), "kafka producer stop")
            await db.close_pool(state.pool)

    def ready() -> bool:
        state = app.state
        if any(t.done() for t in state.tasks):
            return False  # a background task died: restart me
        return state.inbox.ready() and state.follower.loaded.is_set()

    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"stream": ready}, bootstrap_servers=settings.kafka_bootstrap_servers,
        refused=metrics.REFUSED,
    )
    app.include_router(router)
    screen.mount(app)
    return app


def main() -> None:
    settings = AggregationSettings()
    serve(create_app(settings), settings, settings.port)
