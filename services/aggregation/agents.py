"""The aggregation streams: take batches of verdicts, return statuses and alerts, fold each batch
in one go (PostgreSQL first, then the live state), tell the stream clients, publish the totals."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg
import faust
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from services.aggregation import metrics
from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.hub import Hub
from services.aggregation.progress import Progress
from services.aggregation.projection import Totals
from services.aggregation.totals import CITY
from shared import topics
from shared.clock import CampaignClock
from shared.events import AlertRaised, ReportValidated, ReturnStatusChanged, TotalsChanged, decode, encode
from shared.streaming import raw_topic

log = logging.getLogger(__name__)
HEADLINE = (CITY, "city", CITY)


@dataclass
class Pipeline:
    """What the agents fold into and announce to."""

    totals: Totals
    board: ReturnBoard
    feed: AlertFeed
    hub: Hub
    producer: AIOKafkaProducer
    progress: Progress
    clock: CampaignClock


def _decode_all(model, events, input_name: str) -> list:
    decoded = []
    for event in events:
        try:
            decoded.append(decode(model, event.value))
        except (ValidationError, ValueError) as exc:
            # Each input has one known producer; a bad record there is a bug, logged loudly and skipped.
            log.error("undecodable %s at %s/%s: %s", input_name, event.message.partition, event.message.offset, exc)
            metrics.EVENTS.labels(input_name, "undecodable").inc()
    return decoded


async def _until_done(what: str, step):
    """Retry a batch while PostgreSQL is unreachable: a batch is never skipped, offsets wait."""
    while True:
        try:
            return await step()
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("%s: database unavailable (%s); retrying", what, exc)
            await asyncio.sleep(1)


async def publish_totals(pipe: Pipeline, received_at: float | None = None) -> None:
    """TotalsChanged with the city-wide totals; a lost one is repaired by the next batch or a reset replay."""
    event = TotalsChanged(
        received_at=received_at or time.time(),
        campaign_time=pipe.totals.as_of or pipe.clock.now(),
        totals=pipe.totals.headline_exact(),
    )
    try:
        # One key, so one partition: followers read the totals in the order they were published.
        await (await pipe.producer.send(topics.TOTALS_CHANGED.name, encode(event), key=b"city"))
    except KafkaError as exc:
        log.warning("totals not published (%s); the next batch will", exc)


def register(app: faust.App, pipe: Pipeline, batch: int = 2000) -> None:
    @app.agent(raw_topic(app, topics.REPORTS_VALIDATED), name="fold-verdicts")
    async def fold_verdicts(stream):
        async for events in stream.take_events(batch, within=0.005):
            started = time.perf_counter()
            verdicts = _decode_all(ReportValidated, events, "verdict")
            change = await _until_done("verdicts", lambda: pipe.totals.apply(verdicts))
            pipe.hub.totals_changed(change)
            if HEADLINE in change.groups:
                await publish_totals(pipe, max(v.received_at for v in verdicts))
            pipe.progress.mark(events)
            metrics.EVENTS.labels("verdict", "applied").inc(change.applied)
            metrics.EVENTS.labels("verdict", "ignored").inc(len(verdicts) - change.applied)
            if pipe.totals.lag_s is not None:
                metrics.LAG_SECONDS.set(pipe.totals.lag_s)
            metrics.BATCH_SECONDS.labels("verdict").observe(time.perf_counter() - started)

    @app.agent(raw_topic(app, topics.RETURNS_STATUS), name="track-returns")
    async def track_returns(stream):
        async for events in stream.take_events(batch, within=0.005):
            started = time.perf_counter()
            statuses = _decode_all(ReturnStatusChanged, events, "return_status")
            changed = await _until_done("returns", lambda: pipe.board.apply(statuses))
            pipe.hub.returns_changed(changed)
            pipe.progress.mark(events)
            metrics.EVENTS.labels("return_status", "applied").inc(len(changed))
            metrics.EVENTS.labels("return_status", "ignored").inc(len(statuses) - len(changed))
            metrics.BATCH_SECONDS.labels("return_status").observe(time.perf_counter() - started)

    @app.agent(raw_topic(app, topics.ALERTS_RAISED), name="relay-alerts")
    async def relay_alerts(stream):
        async for events in stream.take_events(batch, within=0.005):
            started = time.perf_counter()
            alerts = _decode_all(AlertRaised, events, "alert")
            fresh = await _until_done("alerts", lambda: pipe.feed.apply(alerts))
            pipe.hub.alerts_raised(fresh)
            pipe.progress.mark(events)
            metrics.EVENTS.labels("alert", "applied").inc(len(fresh))
            metrics.EVENTS.labels("alert", "ignored").inc(len(alerts) - len(fresh))
            metrics.BATCH_SECONDS.labels("alert").observe(time.perf_counter() - started)
