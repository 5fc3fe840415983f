"""Composition root of the aggregation service: settings, connections, inputs, table, live state, HTTP."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.aggregation import agents, metrics, screen
from services.aggregation.agents import Pipeline, publish_totals
from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.hub import Hub
from services.aggregation.live import Live
from services.aggregation.progress import Progress
from services.aggregation.projection import Totals
from services.aggregation.routes import router
from shared import auth, db, kafka, topics
from shared.runner import serve, stop_tasks
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.streaming import is_ready, new_faust_app
from shared.web import create_api

SERVICE = "aggregation"
MIGRATIONS = Path(__file__).parent / "migrations"
INPUTS = (topics.REPORTS_VALIDATED, topics.REPORTS_SENT_BACK, topics.RETURNS_STATUS, topics.ALERTS_RAISED)
log = logging.getLogger(__name__)


class AggregationSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    batch_size: int = 2000
    stream_interval_s: float = 0.1  # at most 10 messages per second per client
    keepalive_s: float = 15.0
    stall_after_s: float = 30.0  # records waiting and nothing processed this long: not ready
    progress_every_s: float = 5.0


def create_app(settings: AggregationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        await db.migrate(state.pool, SERVICE, MIGRATIONS)
        await kafka.ensure_topics(settings)
        state.producer = kafka.new_producer(settings)
        await state.producer.start()
        # faust holds the totals table only (its own group, named apart from the inputs' consumer group).
        # Tansu forgets the changelog on restart while faust remembers its offsets in it: the check would
        # crash recovery; PostgreSQL is the truth the table is reconciled with after every recovery.
        state.stream = new_faust_app(f"{SERVICE}-table", settings, recovery_consistency_check=False)
        clock, campaign = settings.clock(), settings.campaign()
        state.campaign = campaign
        state.totals = Totals(state.stream, state.pool, campaign.year)
        # Start from an empty changelog: the table is rebuilt from PostgreSQL in seconds (3 s for a
        # million reports), while replaying a changelog that Tansu never compacts grows without bound
        # and faust's recovery can hang on it (faust #432, #597).
        await kafka.delete_topic(settings, state.totals.table.changelog_topic.get_topic_name())
        board, feed, hub = ReturnBoard(state.pool, campaign), AlertFeed(state.pool), Hub()
        await board.load()
        await feed.load()
        state.consumer = kafka.new_consumer(settings, *INPUTS, group_id=SERVICE, max_poll_records=settings.batch_size)
        state.progress = Progress(settings, state.consumer, [s.name for s in INPUTS], settings.stall_after_s)
        state.pipe = Pipeline(state.totals, board, feed, hub, state.producer, state.progress, clock)
        state.live = Live(
            state.totals, board, feed, hub, clock, campaign, settings.stream_interval_s, settings.keepalive_s,
            on_clients=metrics.STREAM_CLIENTS.set,
        )
        state.reconciled = asyncio.Event()
        await state.stream.start()
        await state.consumer.start()
        tasks = [
            asyncio.create_task(agents.consume(state.consumer, state.pipe, settings.batch_size), name="inputs"),
            asyncio.create_task(_keep_reconciled(state), name="reconcile"),
            asyncio.create_task(kafka.watch_broker_resets(settings, SERVICE, lambda: _on_reset(state)), name="resets"),
            asyncio.create_task(state.progress.watch(settings.progress_every_s), name="progress"),
        ]
        state.tasks = tasks
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await state.consumer.stop()
            await state.stream.stop()
            await state.producer.stop()
            await state.pool.close()

    def ready() -> bool:
        state = app.state
        if any(t.done() for t in state.tasks):
            return False  # a background task died: restart me
        return (
            bool(state.consumer.assignment()) and is_ready(state.stream) and state.reconciled.is_set()
            and not state.progress.stalled
        )

    app = create_api(
        SERVICE, lifespan=lifespan, readiness={"stream": ready}, bootstrap_servers=settings.kafka_bootstrap_servers,
        refused=metrics.REFUSED,
    )
    app.include_router(router)
    screen.mount(app)
    return app


async def _reconcile(state) -> None:
    change = await state.totals.reconcile()
    state.pipe.hub.totals_changed(change)
    await publish_totals(state.pipe)


async def _keep_reconciled(state, settle_s: float = 0.5) -> None:
    """After every table recovery, PostgreSQL is the truth: the changelog may be gone (Tansu forgets
    everything on restart), behind (the process died before flushing), or replayed over newer values
    (a recovery after a broker reset reads changelog records older than what was written since)."""
    app, dirty = state.stream, state.totals.dirty

    async def on_rebalance_complete(sender, **kwargs) -> None:
        dirty.set()

    app.on_rebalance_complete.connect(on_rebalance_complete)
    while True:
        await dirty.wait()
        # on_rebalance_complete fires before the tables' own recovery callbacks: let them finish.
        while app.rebalancing or app.in_recovery or not app.tables.recovery.completed.is_set():
            await asyncio.sleep(0.1)
        await asyncio.sleep(settle_s)
        if app.rebalancing or app.in_recovery:
            continue
        try:
            await _reconcile(state)
            state.reconciled.set()
        except Exception:
            log.exception("reconcile failed; retrying")
            dirty.set()
            await asyncio.sleep(1)


async def _rewind_inputs(consumer) -> None:
    # The new broker's records start at offset 0 again; a consumer left past them would wait (Tansu
    # answers an empty fetch, not "out of range"). Reading too much again is harmless: idempotent.
    assigned = consumer.assignment()
    if assigned:
        await consumer.seek_to_beginning(*assigned)


async def _declare_changelog(state) -> None:
    # Table writes need the changelog topic's partitions (faust partitions eagerly); maybe_declare
    # runs once per process, so after a reset declare again and wait until the producer sees it.
    changelog = state.totals.table.changelog_topic
    try:
        await changelog.declare()
        producer = state.stream.producer._ensure_producer()
        await asyncio.wait_for(producer.partitions_for(changelog.get_topic_name()), 10)
    except Exception as exc:
        log.warning("changelog topic not ready: %r", exc)


async def _on_reset(state) -> None:
    """The broker is new (first start, or it forgot everything): read the inputs from their new start,
    fix the table from PostgreSQL, re-publish the totals."""
    state.progress.reset()
    await _rewind_inputs(state.consumer)
    await _declare_changelog(state)
    await _reconcile(state)


def main() -> None:
    settings = AggregationSettings()
    serve(create_app(settings), settings, settings.port)
