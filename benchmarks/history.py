"""(e) Cost per report must not grow with history: the end-to-end rate over a late stretch (the 2nd
million at full size) against the rate over the first stretch (the first 100,000)."""
from __future__ import annotations

import asyncio
import sys
import time

import httpx
import orjson

from benchmarks.memory import stack_memory
from benchmarks.probes import stage_counts
from benchmarks.workload import report


async def rate_with_history(stack, tokens: dict[str, str], total: int, first: int, late_from: int,
                            batch: int = 500, concurrency: int = 12) -> dict:
    """Send `total` reports in batches, without pause; time when the aggregation has stored each mark."""
    submission = stack.url("submission")
    units = sorted(tokens)
    prefix = f"hist{int(time.time())}"
    marks = {"first": first, "late_from": late_from, "total": total}
    crossed: dict[str, float] = {}
    rss_at_million: dict | None = None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client, httpx.AsyncClient(timeout=10) as probe:
        base = (await stage_counts(probe, stack))["aggregation_stored"] or 0
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=concurrency * 2)

        async def sender() -> None:
            while (start := await queue.get()) is not None:
                unit = units[(start // batch) % len(units)]
                body = orjson.dumps({"reports": [report(prefix, i) for i in range(start, min(total, start + batch))]})
                headers = {"Authorization": f"Bearer {tokens[unit]}", "Content-Type": "application/json"}
                for _ in range(50):
                    answer = await client.post(f"{submission}/v1/reports", content=body, headers=headers)
                    if answer.status_code == 202:
                        break
                    await asyncio.sleep(0.2)
                else:
                    answer.raise_for_status()

        async def feed() -> None:
            for start in range(0, total, batch):
                await queue.put(start)
            for _ in range(concurrency):
                await queue.put(None)

        senders = [asyncio.create_task(sender()) for _ in range(concurrency)]
        feeder = asyncio.create_task(feed())
        began = time.perf_counter()
        stored, moved_at, next_note = 0, None, total // 10
        while stored < total and time.perf_counter() - began < 3600:
            await asyncio.sleep(0.25)
            if any(t.done() and t.exception() for t in senders):
                break
            stored = ((await stage_counts(probe, stack))["aggregation_stored"] or base) - base
            now = time.perf_counter() - began
            if moved_at is None and stored > 0:
                moved_at = now
            for name, mark in marks.items():
                if name not in crossed and stored >= mark:
                    crossed[name] = now
            if rss_at_million is None and stored >= 1_000_000:
                rss_at_million = stack_memory(stack)
            if stored >= next_note:
                while stored >= next_note:
                    next_note += max(1, total // 10)
                print(f"[bench e] {stored:,} stored after {now:.1f} s; marks {crossed}", file=sys.stderr, flush=True)
        feeder.cancel()
        for t in senders:
            t.cancel()
    out: dict = {"reports": total, "stored": stored, "first_stretch": first, "late_stretch": [late_from, total],
                 "crossed_after_s": {k: round(v, 2) for k, v in crossed.items()}}
    if {"first", "late_from", "total"} <= crossed.keys() and moved_at is not None:
        first_rate = first / max(1e-9, crossed["first"] - moved_at)
        late_rate = (total - late_from) / max(1e-9, crossed["total"] - crossed["late_from"])
        out.update(first_rate_per_s=round(first_rate), late_rate_per_s=round(late_rate),
                   late_over_first=round(late_rate / first_rate, 3))
    else:
        out["error"] = "not every report was stored within the hour"
    if rss_at_million is not None:
        out["d_rss_at_1m_reports_mb"] = rss_at_million
    return out
