"""(c') The pipeline's broker traffic alone: each report moved through the broker as the services move
it, with no HTTP, no database, no decoding and no rules. What (a) cannot go below.

A report is published once (submission's relay), read and published again as its verdict
(validation), and the verdict is read twice (aggregation, and submission's verdict follower). Each
hop is a process of its own, as each service is. `python -m benchmarks.broker_floor hop ...` is one
hop; `broker_passes()` runs them all and measures."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import subprocess
import sys
import time
import uuid

from benchmarks import raw_kafka
from benchmarks.cpu import LOAD, CpuWindow
from shared import kafka, topics
from shared.settings import CommonSettings


def _settings(bootstrap: str, partitions: int = 4) -> CommonSettings:
    return CommonSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, QM_TOPIC_PARTITIONS=partitions)


def _scratch(spec: topics.TopicSpec, name: str) -> topics.TopicSpec:
    """A topic beside the real one, so the measure never touches the system's data. (The factories
    read only its name and compaction: a hop may name either topic through either spec.)"""
    return dataclasses.replace(spec, name=name)


async def _hop(bootstrap: str, source: str, target: str | None, group: str, count: int) -> None:
    """Read `count` records of `source` (and publish each to `target`) with the services' own
    consumer and producer, then say done."""
    settings = _settings(bootstrap)
    consumer = kafka.new_consumer(settings, _scratch(topics.REPORTS_SUBMITTED, source), group_id=group)
    producer = kafka.new_producer(settings) if target else None
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


async def _hear(procs: dict, word: bytes, timeout_s: float, failure: str) -> None:
    """Wait for every hop to print `word`."""
    for proc in procs.values():
        if (await asyncio.wait_for(proc.stdout.readline(), timeout_s)).strip() != word:
            raise RuntimeError(failure)


async def broker_passes(stack, count: int, partitions: int = 4) -> dict:
    bootstrap = stack.kafka_bootstrap
    run = uuid.uuid4().hex[:8]
    submitted = f"{topics.REPORTS_SUBMITTED.name}.floor-{run}"
    validated = f"{topics.REPORTS_VALIDATED.name}.floor-{run}"
    settings = _settings(bootstrap, partitions)
    await kafka.ensure_topics(
        settings, [_scratch(topics.REPORTS_SUBMITTED, submitted), _scratch(topics.REPORTS_VALIDATED, validated)]
    )
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
    producer = kafka.new_producer(settings)
    await producer.start()
    try:  # the group joins (~5 s on Tansu) are not part of the measure
        await _hear(procs, b"ready", 60, "a hop of the broker floor did not start")
        window = CpuWindow(stack, **{name: p.pid for name, p in procs.items()}).start()
        started = time.perf_counter()
        futures = [await producer.send(submitted, value, key=key) for key, value in payload]
        await asyncio.gather(*futures)
        await _hear(procs, b"done", 300, "a hop of the broker floor stopped before the last record")
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
