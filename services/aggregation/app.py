"""Composition root of the aggregation service: settings, connections, streams, live state, HTTP."""
from __future__ import annotations

import asyncio
import contextlib
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
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.streaming import is_ready, new_faust_app
from shared.web import create_api

SERVICE = "aggregation"
MIGRATIONS = Path(__file__).parent / "migrations"
INPUTS = (topics.REPORTS_VALIDATED, topics.RETURNS_STATUS, topics.ALERTS_RAISED)
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
        # Tansu forgets the changelog on restart while faust remembers its offsets in it: the check would
        # crash recovery; PostgreSQL is the truth the table is reconciled with after every recovery.
        state.stream = new_faust_app(SERVICE, settings, recovery_consistency_check=False)
        clock, campaign = settings.clock(), settings.campaign()
        state.totals = Totals(state.stream, state.pool)
        board, feed, hub = ReturnBoard(state.pool, campaign), AlertFeed(state.pool), Hub()
        await board.load()
        await feed.load()
        state.progress = Progress(settings, state.stream, [s.name for s in INPUTS], settings.stall_after_s)
        state.pipe = Pipeline(state.totals, board, feed, hub, state.producer, state.progress, clock)
        state.live = Live(
            state.totals, board, feed, hub, clock, campaign, settings.stream_interval_s, settings.keepalive_s,
            on_clients=metrics.STREAM_CLIENTS.set,
        )
        state.reconciled = asyncio.Event()
        agents.register(state.stream, state.pipe, settings.batch_size)
        await state.stream.start()
        tasks = [
            asyncio.create_task(_keep_reconciled(state), name="reconcile"),
            asyncio.create_task(kafka.watch_broker_resets(settings, SERVICE, lambda: _on_reset(state)), name="resets"),
            asyncio.create_task(state.progress.watch(settings.progress_every_s), name="progress"),
        ]
        state.tasks = tasks
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await state.stream.stop()
            await state.producer.stop()
            await state.pool.close()

    def ready() -> bool:
        state = app.state
        if any(t.done() for t in state.tasks):
            return False  # a background task died: restart me
        return is_ready(state.stream) and state.reconciled.is_set() and not state.progress.stalled

    app = create_api(SERVICE, lifespan=lifespan, readiness={"stream": ready})
    app.include_router(router)
    screen.mount(app)
    return app


async def _reconcile(state) -> None:
    change = await state.totals.reconcile()
    state.pipe.hub.totals_changed(change)
    await publish_totals(state.pipe)


async def _keep_reconciled(state, poll_s: float = 0.25) -> None:
    """After every (re)balance and table recovery, PostgreSQL is the truth: the changelog may be
    gone (Tansu forgets everything on restart) or behind (the process died before flushing)."""
    app, settled_before = state.stream, False
    while True:
        settled = not app.rebalancing and app.tables.recovery.completed.is_set() and not app.tables.recovery.in_recovery
        if settled and not settled_before:
            try:
                await _reconcile(state)
                state.reconciled.set()
            except Exception:
                log.exception("reconcile failed; retrying")
                settled = False
        settled_before = settled
        await asyncio.sleep(poll_s)


def _forget_offsets(consumer, tp) -> None:
    # What faust's own on_partitions_revoked clears: it drops every record whose offset is below the
    # last one it read and never commits below the last commit, so the new broker's records (offsets
    # from 0 again) would be silently skipped until they passed the old epoch's offsets.
    for bookkeeping in (consumer._gap, consumer._acked, consumer._acked_index, consumer._read_offset,
                        consumer._committed_offset):
        bookkeeping.pop(tp, None)


async def _rewind_inputs(stream) -> None:
    names = {spec.name for spec in INPUTS}
    for tp in list(stream.consumer.assignment()):
        if tp.topic in names:
            try:
                _forget_offsets(stream.consumer, tp)
                await stream.consumer.seek(tp, 0)
            except Exception as exc:  # a rebalance in between does the same for us
                log.warning("could not rewind %s: %r", tp, exc)


async def _on_reset(state) -> None:
    """The broker is new (first start, or it forgot everything): read the inputs from their new start,
    fix the table from PostgreSQL, re-publish the totals."""
    state.progress.reset()
    await _rewind_inputs(state.stream)
    try:
        await state.totals.table.changelog_topic.maybe_declare()
    except Exception as exc:  # faust re-creates it on its next write; the totals do not depend on it
        log.warning("changelog topic not declared: %s", exc)
    await _reconcile(state)


def main() -> None:
    settings = AggregationSettings()
    serve(create_app(settings), settings, settings.port)
