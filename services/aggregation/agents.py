"""The aggregation inputs: batches of verdicts, return statuses and alerts, each folded in one go
(PostgreSQL first, then the live state), announced to stream clients; totals published after.

The inputs are read with a plain aiokafka consumer (shared.kafka.consume_batches, commit after
the batch): faust's take_events skipped records around a rebalance after a SIGKILL restart, which
exact totals cannot afford. faust keeps the totals table (and its changelog)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg
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
from shared.kafka import consume_batches
from shared.events import AlertRaised, ReportSentBack, ReportValidated, ReturnStatusChanged, TotalsChanged, decode, encode

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


def _decode_all(model, records, input_name: str) -> list:
    decoded = []
    for record in records:
        try:
            decoded.append(decode(model, record.value))
        except (ValidationError, ValueError) as exc:
            # Each input has one known producer; a bad record there is a bug, logged loudly and skipped.
            log.error("undecodable %s at %s/%s: %s", input_name, record.partition, record.offset, exc)
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


async def fold_verdicts(pipe: Pipeline, records) -> None:
    started = time.perf_counter()
    verdicts = _decode_all(ReportValidated, records, "verdict")
    change = await _until_done("verdicts", lambda: pipe.totals.apply(verdicts))
    pipe.hub.totals_changed(change)
    if HEADLINE in change.groups:
        await publish_totals(pipe, max(v.received_at for v in verdicts))
    metrics.EVENTS.labels("verdict", "applied").inc(change.applied)
    metrics.EVENTS.labels("verdict", "ignored").inc(len(verdicts) - change.applied)
    if pipe.totals.lag_s is not None:
        metrics.LAG_SECONDS.set(pipe.totals.lag_s)
    metrics.BATCH_SECONDS.labels("verdict").observe(time.perf_counter() - started)


async def fold_send_backs(pipe: Pipeline, records) -> None:
    sent = _decode_all(ReportSentBack, records, "send_back")
    change = await _until_done("send-backs", lambda: pipe.totals.send_back(sent))
    pipe.hub.totals_changed(change)
    if HEADLINE in change.groups:
        await publish_totals(pipe, max(s.received_at for s in sent))
    metrics.EVENTS.labels("send_back", "applied").inc(change.applied)
    metrics.EVENTS.labels("send_back", "ignored").inc(len(sent) - change.applied)


async def track_returns(pipe: Pipeline, records) -> None:
    started = time.perf_counter()
    statuses = _decode_all(ReturnStatusChanged, records, "return_status")
    changed = await _until_done("returns", lambda: pipe.board.apply(statuses))
    pipe.hub.returns_changed(changed)
    metrics.EVENTS.labels("return_status", "applied").inc(len(changed))
    metrics.EVENTS.labels("return_status", "ignored").inc(len(statuses) - len(changed))
    metrics.BATCH_SECONDS.labels("return_status").observe(time.perf_counter() - started)


async def relay_alerts(pipe: Pipeline, records) -> None:
    started = time.perf_counter()
    alerts = _decode_all(AlertRaised, records, "alert")
    fresh = await _until_done("alerts", lambda: pipe.feed.apply(alerts))
    pipe.hub.alerts_raised(fresh)
    metrics.EVENTS.labels("alert", "applied").inc(len(fresh))
    metrics.EVENTS.labels("alert", "ignored").inc(len(alerts) - len(fresh))
    metrics.BATCH_SECONDS.labels("alert").observe(time.perf_counter() - started)


INPUTS = {
    topics.REPORTS_VALIDATED.name: fold_verdicts,
    topics.REPORTS_SENT_BACK.name: fold_send_backs,
    topics.RETURNS_STATUS.name: track_returns,
    topics.ALERTS_RAISED.name: relay_alerts,
}


def handler(pipe: Pipeline):
    """The batch handler for `shared.kafka.consume_batches`: offsets are committed after it returns."""

    async def handle(records) -> None:
        by_topic: dict[str, list] = {}
        for record in records:
            by_topic.setdefault(record.topic, []).append(record)
        for name, fold in INPUTS.items():
            if name in by_topic:
                await fold(pipe, by_topic[name])
        pipe.progress.mark(records)

    return handle


async def consume(consumer, pipe: Pipeline, batch: int) -> None:
    """consume_batches, resumed after broker errors (a restarting broker fails commits and fetches);
    what was handled but not committed comes again and changes nothing."""
    while True:
        try:
            await consume_batches(consumer, handler(pipe), batch)
        except KafkaError as exc:
            log.warning("input consumer: %r; resuming", exc)
            await asyncio.sleep(1)
