"""(b) Latency from POST /v1/reports to the change on /v1/stream at a steady rate, one report per request.

One unit sends them all, so its reports keep their order through every partitioned hop: report i
is visible when the streamed city-wide `activities` reaches base + i.
"""
from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import orjson

from benchmarks.workload import report


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _follow(url: str, office: str, seen: list[tuple[float, int]], ready: asyncio.Event, errors: list[str]):
    """Follow the stream, reconnecting if it drops (as EventSource would); record each city-wide count."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
        while True:
            try:
                async with client.stream("GET", url, headers={"Authorization": f"Bearer {office}"}) as answer:
                    answer.raise_for_status()
                    event = None
                    async for line in answer.aiter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event in ("snapshot", "totals"):
                            totals = orjson.loads(line[5:]).get("totals") or {}
                            seen.append((time.perf_counter(), int(totals.get("activities", 0))))
                            ready.set()
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)


async def submit_to_stream(stack, token: str, office: str, rate: float = 200, seconds: float = 20) -> dict:
    submission, stream_url = stack.url("submission"), f"{stack.url('aggregation')}/v1/stream"
    n = int(rate * seconds)
    prefix = f"lat{int(time.time())}"
    bodies = [orjson.dumps({"reports": [report(prefix, i)]}) for i in range(n)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    seen: list[tuple[float, int]] = []
    ready = asyncio.Event()
    errors: list[str] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, pool=None), limits=limits) as client:
        follower = asyncio.create_task(_follow(stream_url, office, seen, ready, errors))
        try:
            await asyncio.wait_for(ready.wait(), 15)
        except TimeoutError:
            follower.cancel()
            return {"error": "no snapshot on /v1/stream within 15 s"}
        base = seen[-1][1]
        sent_at: list[float] = [0.0] * n
        statuses: list[int] = []

        in_flight = asyncio.Semaphore(32)  # bounded: a queue inside the HTTP client's pool costs quadratic CPU
        answered: list[float] = []

        async def post(i: int) -> None:
            async with in_flight:
                try:
                    answer = await client.post(f"{submission}/v1/reports", content=bodies[i], headers=headers)
                    statuses.append(answer.status_code)
                    answered.append((time.perf_counter() - sent_at[i]) * 1000)
                except httpx.HTTPError as exc:
                    errors.append(f"POST: {type(exc).__name__}: {exc}")

        start = time.perf_counter()
        posts = []
        for i in range(n):
            # Open loop: latency counts from when the report was due to leave, so a system that falls
            # behind is charged for the queue it causes (no coordinated omission).
            sent_at[i] = start + i / rate
            delay = sent_at[i] - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            posts.append(asyncio.create_task(post(i)))
        await asyncio.gather(*posts)
        deadline = time.perf_counter() + 30
        while (not seen or seen[-1][1] < base + n) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        follower.cancel()
    latencies, j = [], 0
    for i in range(n):
        while j < len(seen) and seen[j][1] < base + i + 1:
            j += 1
        if j < len(seen):
            latencies.append((seen[j][0] - sent_at[i]) * 1000)
    return {
        "rate_per_s": rate,
        "reports": n,
        "seen_on_stream": len(latencies),
        "http_202": statuses.count(202),
        "p50_ms": round(_percentile(latencies, 0.50), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "http_answer_p50_ms": round(_percentile(answered, 0.50), 1) if answered else None,
        "http_answer_p99_ms": round(_percentile(answered, 0.99), 1) if answered else None,
        "stream_messages": len(seen),
        "errors": sorted(set(errors))[:5],
        "stream_drops": sum(1 for e in errors if not e.startswith("POST")),
    }
