"""The aggregation inputs, through the shared inbox: verdicts, send-backs, return statuses and alerts, each
batch stored in the inbox's transaction (ledger and cells, board, feed); after it commits this
replica shows the change at once and publishes the city totals. Other replicas follow by NOTIFY."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.aggregation import metrics
from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.follow import Follower
from services.aggregation.projection import Fold, Totals
from shared import topics
from shared.clock import CampaignClock
from shared.epoch import BrokerEpoch
from shared.events import TotalsChanged, encode
from shared.inbox import Delivery, Inbox
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
GROUP = "aggregation"
INPUTS = (topics.REPORTS_VALIDATED, topics.REPORTS_SENT_BACK, topics.RETURNS_STATUS, topics.ALERTS_RAISED)


@dataclass
class Pipeline:
    """What the inputs fold into and announce to."""

    totals: Totals
    board: ReturnBoard
    feed: AlertFeed
    follower: Follower
    producer: AIOKafkaProducer
    clock: CampaignClock


@dataclass
class Folded:
    counts: dict[str, tuple[int, int]]  # input -> (events, applied)
    received_at: float | None
    started: float
    folds: list[Fold]


async def publish_totals(pipe: Pipeline, received_at: float | None = None) -> None:
    """TotalsChanged with the city-wide totals; a lost one is repaired by the next batch."""
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


def handler(pipe: Pipeline):
    async def handle(conn: asyncpg.Connection, deliveries: list[Delivery]) -> Folded:
        started = time.perf_counter()
        by_topic: dict[str, list] = {}
        for d in deliveries:
            by_topic.setdefault(d.topic, []).append(d.event)
        counts, received_at, folds = {}, None, []
        if verdicts := by_topic.get(topics.REPORTS_VALIDATED.name):
            folds.append(await pipe.totals.fold(conn, verdicts))
            counts["verdict"] = (len(verdicts), folds[-1].applied)
            received_at = max(v.received_at for v in verdicts)
        # After the verdicts: a send-back names a version that must already be in the ledger.
        if sent := by_topic.get(topics.REPORTS_SENT_BACK.name):
            folds.append(await pipe.totals.send_back(conn, sent))
            counts["send_back"] = (len(sent), folds[-1].applied)
            received_at = max([received_at or 0.0, *(s.received_at for s in sent)])
        if statuses := by_topic.get(topics.RETURNS_STATUS.name):
            counts["return_status"] = (len(statuses), await pipe.board.store(conn, statuses))
        if alerts := by_topic.get(topics.ALERTS_RAISED.name):
            counts["alert"] = (len(alerts), await pipe.feed.store(conn, alerts))
        return Folded(counts, received_at, started, folds)

    async def after_commit(folded: Folded) -> None:
        for fold in folded.folds:
            pipe.totals.committed(fold)
        await pipe.follower.sync(received_at=folded.received_at)
        if folded.counts.get("verdict", (0, 0))[1] or folded.counts.get("send_back", (0, 0))[1]:
            await publish_totals(pipe, folded.received_at)
        for name, (events, applied) in folded.counts.items():
            metrics.EVENTS.labels(name, "applied").inc(applied)
            metrics.EVENTS.labels(name, "ignored").inc(events - applied)
            metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - folded.started)
        if pipe.totals.lag_s is not None:
            metrics.LAG_SECONDS.set(pipe.totals.lag_s)

    return handle, after_commit


def inbox(
    settings: CommonSettings, pool: asyncpg.Pool, epoch: BrokerEpoch, pipe: Pipeline, batch: int, stall_after_s: float
) -> Inbox:
    handle, after_commit = handler(pipe)
    return Inbox(
        GROUP, settings, pool, pipe.producer, epoch, INPUTS, handle,
        dead_letters=topics.DEAD_LETTERS["aggregation"], after_commit=after_commit, batch_size=batch,
        stall_after_s=stall_after_s,
        # A predecessor killed between its commit and its publish left the newest totals unannounced.
        unsent=lambda: publish_totals(pipe),
    )
