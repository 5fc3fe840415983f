"""Restart detection of a consumer's partitions: only an end offset that falls means a new log."""
from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from shared.kafka import LogRestarts, rewind_if_log_restarted

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    """What rewind_if_log_restarted asks a consumer, with Tansu's end offsets (base of the last batch)."""

    def __init__(self, positions: dict[TopicPartition, int], ends: dict[TopicPartition, int]):
        self.positions, self.ends, self.rewound = positions, ends, []

    def assignment(self):
        return set(self.positions)

    async def end_offsets(self, partitions):
        return {tp: self.ends[tp] for tp in partitions}

    async def seek_to_beginning(self, *partitions):
        self.rewound += partitions
        for tp in partitions:
            self.positions[tp] = 0


def test_a_caught_up_consumer_never_rewinds_although_tansu_says_it_is_past_the_end():
    # 4,000 records read; Tansu says the log ends at 3,992 (its last batch's base offset).
    consumer = FakeConsumer({P0: 4000, P1: 2000}, {P0: 3992, P1: 1})
    restarts = LogRestarts()
    for _ in range(5):
        assert asyncio.run(rewind_if_log_restarted(consumer, restarts)) == []
    consumer.ends = {P0: 4100, P1: 1}  # more came, still "behind" the position at times
    assert asyncio.run(rewind_if_log_restarted(consumer, restarts)) == []
    assert consumer.rewound == [] and consumer.positions == {P0: 4000, P1: 2000}


def test_an_end_offset_below_one_seen_before_rewinds_that_partition_only():
    consumer = FakeConsumer({P0: 4000, P1: 2000}, {P0: 3992, P1: 1998})
    restarts = LogRestarts()
    assert asyncio.run(rewind_if_log_restarted(consumer, restarts)) == []
    consumer.ends = {P0: 12, P1: 1998}  # the broker restarted; p0 has a new log, p1 is unchanged so far
    assert asyncio.run(rewind_if_log_restarted(consumer, restarts)) == [P0]
    assert consumer.positions == {P0: 0, P1: 2000}
    # The new log's end is the new baseline: growing again is no restart.
    consumer.ends = {P0: 40, P1: 1998}
    assert asyncio.run(rewind_if_log_restarted(consumer, restarts)) == []


def test_partitions_first_seen_after_a_rebalance_start_a_baseline():
    restarts = LogRestarts()
    assert restarts.restarted({P0: 0}) == []
    assert restarts.restarted({P0: 0, P1: 500}) == []
    assert restarts.restarted({P1: 499}) == [P1]
