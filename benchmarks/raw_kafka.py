"""(c) The machine's raw limit: aiokafka produce-and-consume on the same broker, for the same records
the submission service publishes (ReportSubmitted JSON keyed by unit), with no processing at all."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.workload import report, unit_ids
from shared import topics
from shared.events import ActivityReport, ReportSubmitted, encode


def records(count: int) -> list[tuple[bytes, bytes]]:
    units = unit_ids()
    now = datetime.now(timezone.utc)
    out = []
    for i in range(count):
        unit = units[i % len(units)]
        event = ReportSubmitted(received_at=time.time(), campaign_time=now, submission_id=uuid.uuid4().hex,
                                unit_id=unit, report=ActivityReport(**report("raw", i)))
        out.append((unit.encode(), encode(event)))
    return out


async def produce_and_consume(bootstrap: str, count: int, partitions: int = 4) -> dict:
    # A scratch topic beside the real one, so the measure never touches the system's data.
    topic = f"{topics.REPORTS_SUBMITTED.name}.bench-{uuid.uuid4().hex[:8]}"
    payload = records(count)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", fetch_max_wait_ms=10, max_partition_fetch_bytes=4 << 20)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 << 10)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # the group join (~5 s on Tansu) is not part of the measure
            await asyncio.sleep(0.05)
        received = 0

        async def consume() -> None:
            nonlocal received
            while received < count:
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                received += sum(len(v) for v in batch.values())

        started = time.perf_counter()
        consuming = asyncio.create_task(consume())
        futures = [await producer.send(topic, value, key=key) for key, value in payload]
        await asyncio.gather(*futures)
        produced = time.perf_counter()
        await asyncio.wait_for(consuming, 300)
        done = time.perf_counter()
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "records": count,
        "record_bytes": round(sum(len(v) for _, v in payload) / count),
        "partitions": partitions,
        "produce_records_per_s": round(count / (produced - started)),
        "produce_and_consume_records_per_s": round(count / (done - started)),
    }
