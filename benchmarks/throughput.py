"""(a) End-to-end throughput at saturation: reports/s from the first HTTP request to the totals showing all."""
from __future__ import annotations

import asyncio
import time

import httpx
import orjson

from benchmarks.workload import batches
from benchmarks.cpu import CpuWindow
from benchmarks.probes import commits, stage_counts

async def city_activities(client: httpx.AsyncClient, aggregation: str, office: str) -> int:
    answer = await client.get(f"{aggregation}/v1/totals", headers={"Authorization": f"Bearer {office}"})
    answer.raise_for_status()
    return int(answer.json()["totals"].get("activities", 0))


async def end_to_end(stack, tokens: dict[str, str], office: str, count: int, batch: int = 500, concurrency: int = 12,
                     timeout: float = 600) -> dict:
    submission, aggregation = stack.url("submission"), stack.url("aggregation")
    units = sorted(tokens)
    # Bodies are encoded up front: the client shares the 2 cores with the system it measures.
    bodies = [(units[i % len(units)], orjson.dumps({"reports": b})) for i, b in enumerate(batches(f"tp{int(time.time())}", count, batch))]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    stage_done: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=120, limits=limits) as client, httpx.AsyncClient(timeout=10) as probe:
        stage_base = await stage_counts(probe, stack)
        base = await city_activities(client, aggregation, office)
        semaphore = asyncio.Semaphore(concurrency)
        refused = 0

        async def post(unit: str, body: bytes) -> None:
            nonlocal refused
            headers = {"Authorization": f"Bearer {tokens[unit]}", "Content-Type": "application/json"}
            async with semaphore:
                for _ in range(20):
                    answer = await client.post(f"{submission}/v1/reports", content=body, headers=headers)
                    if answer.status_code == 202:
                        return
                    refused += 1
                    await asyncio.sleep(0.2)
                answer.raise_for_status()

        async def sample_stages(once: bool = False) -> None:
            # Every 0.25 s, from the first request on: three small /metrics reads (the scrape costs
            # the services little, and the parsing costs this process little).
            while len(stage_done) < len(stage_base):
                for name, value in (await stage_counts(probe, stack)).items():
                    if value is not None and name not in stage_done and value - (stage_base[name] or 0) >= count:
                        stage_done[name] = round(time.perf_counter() - started, 2)
                if once:
                    return
                await asyncio.sleep(0.25)

        commits_before = await commits(stack.database_url)
        window = CpuWindow(stack).start()
        started = time.perf_counter()
        sampler = asyncio.create_task(sample_stages())
        await asyncio.gather(*(post(u, b) for u, b in bodies))
        accepted = time.perf_counter()
        seen = base
        while seen < base + count and time.perf_counter() - started < timeout:
            await asyncio.sleep(0.1)
            seen = await city_activities(client, aggregation, office)
        done = time.perf_counter()
        cpu = window.stop()
        sampler.cancel()
        await sample_stages(once=True)  # a counter may follow the totals by a moment
        committed = await commits(stack.database_url) - commits_before
    return {
        "reports": count,
        "batch_size": batch,
        "client_concurrency": concurrency,
        "http_accept_seconds": round(accepted - started, 2),
        "http_accept_reports_per_s": round(count / (accepted - started)),
        "end_to_end_seconds": round(done - started, 2),
        "end_to_end_reports_per_s": round((seen - base) / (done - started)),
        "complete": seen >= base + count,
        "retried_requests": refused,
        "stage_done_after_s": stage_done,
        "cpu_share_by_process": cpu,
        "cpu_ms_per_report": window.ms_per(count),
        "postgresql_commits_per_report": round(committed / count, 3),
    }
