"""Restart detection of a consumer's partitions (shared.inbox asks LogRestarts every second): only an
end offset that falls means a new log, never a caught-up consumer past Tansu's end offset."""
from __future__ import annotations

from aiokafka import TopicPartition

from shared.kafka import LogRestarts

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_a_caught_up_consumer_never_rewinds_although_tansu_says_it_is_past_the_end():
    # 4,000 records read on p0; Tansu says the log ends at 3,992 (its last batch's base offset).
    restarts = LogRestarts()
    for _ in range(5):
        assert restarts.restarted({P0: 3992, P1: 1}) == []
    assert restarts.restarted({P0: 4100, P1: 1}) == []  # more came


def test_an_end_offset_below_one_seen_before_is_a_new_log_of_that_partition_only():
    restarts = LogRestarts()
    assert restarts.restarted({P0: 3992, P1: 1998}) == []
    assert restarts.restarted({P0: 12, P1: 1998}) == [P0]  # the broker restarted; p1 unchanged so far
    # The new log's end is the new baseline: growing again is no restart.
    assert restarts.restarted({P0: 40, P1: 1998}) == []


def test_partitions_first_seen_after_a_rebalance_start_a_baseline():
    restarts = LogRestarts()
    assert restarts.restarted({P0: 0}) == []
    assert restarts.restarted({P0: 0, P1: 500}) == []
    assert restarts.restarted({P1: 499}) == [P1]
