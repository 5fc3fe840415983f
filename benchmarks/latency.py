"""(b) Latency from POST /v1/reports to the change on /v1/stream at a steady rate, one report per request.

One unit sends them all, so its reports keep their order through every partitioned hop: report i
is visible when the streamed city-wide `activities` reaches base + i.
"""
from __future__ import annotations

import asyncio
import resource
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from benchmarks.cpu import CpuWindow
from benchmarks.probes import commits
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
                            seen.append((time.time(), int(totals.get("activities", 0))))
                            ready.set()
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)


WRK_SCRIPT = Path(__file__).with_name("single_reports.lua")


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing: `apt-get install -y wrk` (make bench installs it)")
    return found


async def _start_wrk(url: str, token: str, bodies_file: Path, rate: float, start: float, n: int, connections: int):
    """wrk, one thread: compiled, so the load costs little of the cores it shares with the stack."""
    return await asyncio.create_subprocess_exec(
        _wrk(), "-t1", f"-c{connections}", f"-d{int(n / rate + 60)}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), url,
        "--", token, str(bodies_file), str(rate), f"{start:.6f}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _finish_wrk(proc, began: float, before) -> dict:
    """wrk runs for its whole -d even when done: SIGINT ends it early, and it still prints its result."""
    await asyncio.sleep(1.0)  # the last answers follow their commits by a few ms
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    out, err = await proc.communicate()
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in out.decode().splitlines() if x.startswith("QMRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (rc {proc.returncode}): {err.decode()[-500:]}")
    result = orjson.loads(line[len("QMRESULT "):])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["cpu_share_of_one_core"] = round(cpu / wall, 3)
    return result


async def submit_to_stream(stack, token: str, office: str, rate: float = 200, seconds: float = 20) -> dict:
    submission, stream_url = stack.url("submission"), f"{stack.url('aggregation')}/v1/stream"
    n = int(rate * seconds)
    prefix = f"lat{int(time.time())}r{int(rate)}"
    seen: list[tuple[float, int]] = []
    ready = asyncio.Event()
    errors: list[str] = []
    follower = asyncio.create_task(_follow(stream_url, office, seen, ready, errors))
    try:
        await asyncio.wait_for(ready.wait(), 15)
    except TimeoutError:
        follower.cancel()
        return {"error": "no snapshot on /v1/stream within 15 s"}
    base = seen[-1][1]
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        f.write(b"\n".join(orjson.dumps({"reports": [report(prefix, i)]}) for i in range(n)) + b"\n")
        bodies_file = Path(f.name)
    # Report i is due at start + i/rate (open loop): latency counts from then, so a system that falls
    # behind is charged for the queue it causes (no coordinated omission).
    start = time.time() + 0.5
    commits_before = await commits(stack.database_url)
    window = CpuWindow(stack).start()
    before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    wrk = await _start_wrk(f"{submission}/v1/reports", token, bodies_file, rate, start, n, connections=min(256, max(16, int(rate))))
    try:
        deadline = start + n / rate + 60
        while (not seen or seen[-1][1] < base + n) and time.time() < deadline and wrk.returncode is None:
            await asyncio.sleep(0.05)
        cpu = window.stop()
        committed = await commits(stack.database_url) - commits_before
        sent = await _finish_wrk(wrk, began, before)
    finally:
        follower.cancel()
        bodies_file.unlink(missing_ok=True)
        if wrk.returncode is None:
            wrk.kill()
    latencies, j = [], 0
    for i in range(n):
        while j < len(seen) and seen[j][1] < base + i + 1:
            j += 1
        if j < len(seen):
            latencies.append((seen[j][0] - (start + i / rate)) * 1000)
    return {
        "rate_per_s": rate,
        "reports": n,
        "seen_on_stream": len(latencies),
        "http_202": sent["answered"] - sent["non_202"],
        "p50_ms": round(_percentile(latencies, 0.50), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        # wrk times each answer from its request's write; send_late_max_ms says how far behind the
        # schedule any write went (near 0: the answer times are the open-loop ones too).
        "http_answer_p50_ms": round(sent["p50_ms"], 1),
        "http_answer_p99_ms": round(sent["p99_ms"], 1),
        "http_answer_max_ms": round(sent["max_ms"], 1),
        "send_late_max_ms": sent["send_late_max_ms"],
        "load_generator": "wrk, 1 thread, Lua script, open loop",
        "load_generator_cpu_share": sent["cpu_share_of_one_core"],
        "cpu_share_by_process": cpu,
        "cpu_ms_per_report": window.ms_per(n),
        "postgresql_commits_per_report": round(committed / n, 2),
        "stream_messages": len(seen),
        "errors": sorted(set(errors))[:5] + ([f"socket errors: {sent['socket_errors']}"] if any(sent["socket_errors"].values()) else []),
        "stream_drops": len(errors),
    }
