"""Closing aiokafka clients from a task that is being cancelled, against the real broker: the
cancellation is not lost, so a service's background loops stop when it shuts down."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared import epoch, kafka
from shared.settings import CommonSettings
from tests.helpers import bootstrap_of


async def test_a_cancellation_that_arrives_while_a_client_closes_is_raised(broker):
    bootstrap = bootstrap_of(broker)
    for client in (AIOKafkaAdminClient(bootstrap_servers=bootstrap), AIOKafkaConsumer(bootstrap_servers=bootstrap),
                   AIOKafkaProducer(bootstrap_servers=bootstrap)):
        await client.start()
        closing = asyncio.create_task(kafka.close_client(client))
        await asyncio.sleep(0)  # the task now waits inside aiokafka's close
        closing.cancel()
        await asyncio.wait([closing], timeout=10)
        assert closing.cancelled(), type(client).__name__


async def test_the_reset_watcher_stops_when_cancelled_at_any_moment(broker):
    settings = CommonSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap_of(broker), DATABASE_URL="postgresql://unused")

    async def on_reset() -> None:
        pass

    for delay_ms in range(0, 400, 20):  # each cancellation lands at another step of the watcher's loop
        watcher = asyncio.create_task(epoch.watch_broker_resets(settings, "test", on_reset, interval_s=0.01))
        await asyncio.sleep(delay_ms / 1000)
        watcher.cancel()
        done, _ = await asyncio.wait([watcher], timeout=10)
        assert done and watcher.cancelled(), f"still running 10 s after a cancel at {delay_ms} ms"
