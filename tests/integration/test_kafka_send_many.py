"""shared.kafka.send_many against the real broker: the partitions `send` would choose, in order."""
from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared import kafka
from shared.settings import CommonSettings
from tests.helpers import bootstrap_of


async def _read_all(settings: CommonSettings, topic: str, count: int) -> list:
    consumer = kafka.new_consumer(settings, group_id=None)
    consumer.subscribe([topic])
    await consumer.start()
    try:
        records = []
        while len(records) < count:
            for batch in (await consumer.getmany(timeout_ms=2000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_records_land_where_send_puts_them_and_keep_their_order_per_key(broker):
    bootstrap = bootstrap_of(broker)
    settings = CommonSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, DATABASE_URL="postgresql://unused")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("qm.test.send-many.v1", 4, 1), NewTopic("qm.test.send-one.v1", 4, 1)])
    finally:
        await admin.close()
    # Small batches, so several record batches per partition are sent one after another.
    producer = kafka.new_producer(settings, max_batch_size=4096)
    await producer.start()
    try:
        keys = [f"unit-{i}".encode() for i in range(12)]
        records = [(keys[i % len(keys)], f"{i}:".encode() + b"x" * 300) for i in range(600)]
        assert await kafka.send_many(producer, "qm.test.send-many.v1", records) == 600
        for key, value in records:
            await producer.send("qm.test.send-one.v1", value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    many = await _read_all(settings, "qm.test.send-many.v1", 600)
    one = await _read_all(settings, "qm.test.send-one.v1", 600)
    partition_of = {r.key: r.partition for r in one}
    assert {r.key: r.partition for r in many} == partition_of and len(set(partition_of.values())) > 1
    for key in keys:
        sent = [v for k, v in records if k == key]
        assert [r.value for r in many if r.key == key] == sent  # every record once, in the order given
