"""(c') The pipeline's broker traffic alone: each report moved through the broker as the services move
it, with no HTTP, no database, no decoding and no rules. What (a) cannot go below.

A report is published once (submission's relay), read and published again as its verdict
(validation), and the verdict is read twice (aggregation, and submission's verdict follower). Each
hop is a process of its own, as each service is. `python -m benchmarks.broker_floor hop ...` is one
hop; `broker_passes()` runs them all and measures."""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks import raw_kafka
from benchmarks.cpu import LOAD, CpuWindow
from shared import topics


def _producer(bootstrap: str) -> AIOKafkaProducer:  # as shared.kafka.new_producer
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=2,
                            max_batch_size=256 << 10)


async def _hop(bootstrap: str, source: str, target: str | None, group: str, count: int) -> None:
    """Read `count` records of `source` (and publish each to `target`), then say done."""
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50, max_poll_records=2000)
    producer = _producer(bootstrap) if target else None
    await consumer.start()
    if producer:
        await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        seen = 0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=200)
            records = [r for batch in batches.values() for r in batch]
            seen += len(records)
            if producer and records:
                futures = [await producer.send(target, r.value, key=r.key) for r in records]
                await asyncio.gather(*futures)
        print("done", flush=True)
    finally:
        if producer:
            await producer.stop()
        await consumer.stop()


async def broker_passes(stack, count: int, partitions: int = 4) -> dict:
    bootstrap = stack.kafka_bootstrap
    run = uuid.uuid4().hex[:8]
    submitted = f"{topics.REPORTS_SUBMITTED.name}.floor-{run}"
    validated = f"{topics.REPORTS_VALIDATED.name}.floor-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(submitted, partitions, 1), NewTopic(validated, partitions, 1)])
    finally:
        await admin.close()
    payload = raw_kafka.records(count)
    hops = {
        "validation's hop": (submitted, validated),
        "aggregation's hop": (validated, None),
        "submission's follower hop": (validated, None),
    }
    procs = {
        name: await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.broker_floor", "--bootstrap", bootstrap, "--source", source,
            *(["--target", target] if target else []), "--group", f"floor-{run}-{i}", "--count", str(count),
            stdout=subprocess.PIPE,
        )
        for i, (name, (source, target)) in enumerate(hops.items())
    }
    producer = _producer(bootstrap)
    await producer.start()
    try:
        for proc in procs.values():  # the group joins (~5 s on Tansu) are not part of the measure
            if (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() != b"ready":
                raise RuntimeError("a hop of the broker floor did not start")
        window = CpuWindow(stack, **{name: p.pid for name, p in procs.items()}).start()
        started = time.perf_counter()
        futures = [await producer.send(submitted, value, key=key) for key, value in payload]
        await asyncio.gather(*futures)
        for proc in procs.values():
            if (await asyncio.wait_for(proc.stdout.readline(), 300)).strip() != b"done":
                raise RuntimeError("a hop of the broker floor stopped before the last record")
        wall = time.perf_counter() - started
        share = window.stop()
    finally:
        await producer.stop()
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    # The stack's services idle meanwhile: counted apart, not in the floor.
    floor = (*hops, LOAD, "broker (tansu)")
    return {
        "reports": count,
        "partitions": partitions,
        "reports_per_s": round(count / wall),
        "cpu_share_by_process": {name: share[name] for name in floor if name in share},
        "cpu_ms_per_report": window.ms_per(count, only=floor),
        "idle_stack_cpu_share": round(sum(v for k, v in share.items() if k not in floor), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_floor", description="one hop of (c')")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target")
    parser.add_argument("--group", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(_hop(args.bootstrap, args.source, args.target, args.group, args.count))


if __name__ == "__main__":
    main()
