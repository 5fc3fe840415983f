"""Which life of the broker this is: a memory-only broker (Tansu) that restarts forgets every topic,
record and committed offset, and every process must notice it, even one that was away at the time.

The epoch is the value of the first record of one single-partition topic. Whoever finds the topic
missing or empty writes a random id; whoever wrote first is offset 0, so every process reads the
same id. A restarted broker has no such topic, so the id changes. (A marker topic's mere existence
would not do with several processes: one may recreate it before another looks.)

The inbox rewinds its partitions on a new epoch. What a service publishes from PostgreSQL is
replayed by `watch_broker_resets`: there a marker topic of the service's own does fit, as it says
that the service's replay completed on this broker (any one replica's replay publishes everything)."""
from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared import kafka, topics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
_PARTITION = TopicPartition(topics.BROKER_EPOCH, 0)


class BrokerEpoch:
    """Reads the broker's epoch id; `watch` re-reads it every few seconds and counts changes."""

    def __init__(self, settings: CommonSettings):
        self.settings = settings
        self.current: str | None = None
        self.changes = 0  # how many times a new epoch was seen after the first
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()  # one reader at a time: the seek to offset 0 is shared state

    async def read(self) -> str:
        """The current epoch id; creates it on a new broker. Raises KafkaError/OSError if unreachable."""
        async with self._lock:
            return await self._read()

    async def _read(self) -> str:
        await self._connect()
        assert self._admin and self._consumer and self._producer
        for _ in range(10):
            if topics.BROKER_EPOCH not in await self._admin.list_topics():
                try:
                    await self._admin.create_topics([NewTopic(topics.BROKER_EPOCH, 1, 1)])
                except TopicAlreadyExistsError:
                    pass
            self._consumer.resume(_PARTITION)
            self._consumer.seek(_PARTITION, 0)
            try:
                fetched = await self._consumer.getmany(_PARTITION, timeout_ms=1000, max_records=1)
            finally:
                # Paused between reads: aiokafka otherwise fetches an assigned partition for ever, every
                # fetch_max_wait (10 ms), in every process.
                self._consumer.pause(_PARTITION)
            first = fetched.get(_PARTITION)
            if first:
                return first[0].value.decode()
            await self._producer.send_and_wait(topics.BROKER_EPOCH, uuid.uuid4().hex.encode(), partition=0)
        raise KafkaError("broker epoch unreadable")

    async def refresh(self) -> bool:
        """Read the epoch; True when it differs from the one known before (not on the first read)."""
        epoch = await self.read()
        return self._learn(epoch)

    def _learn(self, epoch: str) -> bool:
        if epoch == self.current:
            return False
        first, self.current = self.current is None, epoch
        if first:
            return False
        self.changes += 1
        log.warning("the broker is new (epoch %s): it forgot every record and offset", epoch)
        return True

    async def watch(self, interval_s: float = 2.0) -> None:
        while True:
            try:
                await self.refresh()
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                log.info("broker epoch not readable (%r); retrying", exc)
                await self.close()
            await asyncio.sleep(interval_s)

    async def _connect(self) -> None:
        if self._admin is not None:
            return
        servers = self.settings.kafka_bootstrap_servers
        admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=10)
        producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=False, acks="all", request_timeout_ms=5000)
        try:
            async with asyncio.timeout(10):
                await admin.start()
                await consumer.start()
                await producer.start()
        except BaseException:
            for client in (admin, consumer, producer):
                await kafka.close_client(client)
            raise
        consumer.assign([_PARTITION])
        consumer.pause(_PARTITION)
        self._admin, self._consumer, self._producer = admin, consumer, producer

    async def close(self) -> None:
        clients = (self._admin, self._consumer, self._producer)
        self._admin = self._consumer = self._producer = None
        for client in clients:
            if client is not None:
                await kafka.close_client(client)


async def watch_broker_resets(settings: CommonSettings, service: str, on_reset, interval_s: float = 2.0) -> None:
    """Call `on_reset()` whenever the broker is new: at first start, and after a memory-only broker
    (Tansu) restarted and forgot every record. `on_reset` re-publishes from PostgreSQL whatever
    downstream may have lost; consumers are idempotent, so replaying too much is harmless."""
    marker = topics.epoch_marker(service)
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        try:
            await admin.start()
            if marker not in await admin.list_topics():
                await kafka.ensure_topics(settings)
                await on_reset()
                # Only after a complete replay: a replay cut short by another outage runs again.
                try:
                    await admin.create_topics([NewTopic(marker, num_partitions=1, replication_factor=1)])
                except TopicAlreadyExistsError:
                    pass
                log.info("%s: broker epoch marked after replay", service)
        except (KafkaError, OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The database may be away too: the replay runs again, whole, once both are back.
            log.warning("%s: broker check or replay failed (%r); retrying", service, exc)
        finally:
            await kafka.close_client(admin)
        await asyncio.sleep(interval_s)
