"""Liveness from real progress: offsets processed vs the broker's end offsets. A consumer can
silently stop fetching (PLATFORM.md); then records wait on the broker while nothing is processed,
and /readyz says so."""
from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.aggregation import metrics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


class Progress:
    """Stalled = records waiting on the broker and no batch processed for `stall_after_s`."""

    def __init__(self, settings: CommonSettings, consumer: AIOKafkaConsumer, topic_names: list[str],
                 stall_after_s: float = 30):
        self.settings, self.consumer, self.topic_names = settings, consumer, topic_names
        self.stall_after_s = stall_after_s
        self.processed: dict[tuple[str, int], int] = {}
        self.last_progress = time.monotonic()
        self.backlog = 0
        self.stalled = False

    def mark(self, records) -> None:
        for r in records:
            tp = (r.topic, r.partition)
            self.processed[tp] = max(self.processed.get(tp, -1), r.offset)
        self.last_progress = time.monotonic()

    def reset(self) -> None:
        """After a broker reset the old offsets mean nothing."""
        self.processed.clear()
        self.last_progress = time.monotonic()

    async def _position(self, tp) -> int:
        # The consumer's own position (what it fetched up to) counts only until a batch was processed.
        try:
            return await asyncio.wait_for(self.consumer.position(tp), 5) or 0
        except Exception:  # not assigned (rebalance) or not answering: no progress known
            return 0

    async def check(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None)
        try:
            await consumer.start()
            tps = [
                TopicPartition(t, p) for t in self.topic_names for p in (consumer.partitions_for_topic(t) or ())
            ]
            ends = await consumer.end_offsets(tps) if tps else {}
        finally:
            await consumer.stop()
        backlog = 0
        for tp, end in ends.items():
            processed = self.processed.get((tp.topic, tp.partition))
            done = processed + 1 if processed is not None else await self._position(tp)
            backlog += max(0, end - done)
        self.backlog = backlog
        metrics.BACKLOG.set(backlog)
        self.stalled = backlog > 0 and time.monotonic() - self.last_progress > self.stall_after_s

    async def watch(self, every_s: float = 5) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    raise
                log.warning("progress check cancelled from below (client reconnecting); retrying")
            except Exception as exc:  # the broker may be away (restarting); the check must outlive that
                log.warning("progress check failed: %r", exc)
            await asyncio.sleep(every_s)
