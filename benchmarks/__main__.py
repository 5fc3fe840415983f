"""`python -m benchmarks [--quick]` (`make bench`): start a stack on free ports, measure, print JSON."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import broker_floor, history, latency, memory, raw_kafka, rebuild, throughput
from benchmarks.workload import unit_ids
from deploy.simulator.player import issue_tokens
from deploy.stack import Stack

SIZES = {  # quick: a smoke run of a minute or two; full: what benchmarks/README.md reports
    "quick": {"reports": 20_000, "latency_s": 5, "raw_records": 50_000, "ledger_rows": 100_000, "history_reports": 60_000},
    "full": {"reports": 200_000, "latency_s": 30, "raw_records": 200_000, "ledger_rows": 1_000_000, "history_reports": 2_000_000},
}


def _log(message: str, results: dict | None = None, step: str | None = None) -> None:
    load = os.getloadavg()
    print(f"[bench {time.strftime('%H:%M:%S')} load {load[0]:.1f}] {message}", file=sys.stderr, flush=True)
    if results is not None and step:  # the machine's load when each step began: the numbers move with it
        results["machine"].setdefault("load_avg_at_step_start", {})[step] = [round(x, 2) for x in load]
        _save(results)


_OUT: list[Path] = []  # --out: the results so far are written there at every step, so a cut run leaves them


def _save(results: dict) -> None:
    for path in _OUT:
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False))


async def _measure(stack: Stack, sizes: dict, results: dict) -> None:
    tokens, office = await issue_tokens(stack.database_url, unit_ids())
    _log(f"(b) latency at 200 reports/s for {sizes['latency_s']} s", results, "b")
    results["b_submit_to_stream_latency"] = await latency.submit_to_stream(stack, tokens["pudong"], office, 200, sizes["latency_s"])
    _log("(b') the same at 20 reports/s, for what one request costs when nothing queues", results, "b20")
    results["b_latency_at_20_per_s"] = await latency.submit_to_stream(stack, tokens["huangpu"], office, 20, sizes["latency_s"])
    _log(f"(a) end-to-end throughput, {sizes['reports']:,} reports", results, "a")
    results["a_end_to_end_throughput"] = await throughput.end_to_end(stack, tokens, office, sizes["reports"])
    results["d_rss_after_throughput_mb"] = memory.stack_memory(stack)
    _log(f"(c) raw aiokafka produce+consume, {sizes['raw_records']:,} records", results, "c")
    results["c_raw_aiokafka"] = await raw_kafka.produce_and_consume(stack.kafka_bootstrap, sizes["raw_records"])
    raw = results["c_raw_aiokafka"]["produce_and_consume_records_per_s"]
    e2e = results["a_end_to_end_throughput"]["end_to_end_reports_per_s"]
    results["a_over_c_ratio"] = round(e2e / raw, 3) if raw else None
    _log(f"(c') the pipeline's broker traffic alone, {sizes['raw_records']:,} reports", results, "c_floor")
    floor = results["c_broker_floor"] = await broker_floor.broker_passes(stack, sizes["raw_records"])
    floor["over_raw_ratio"] = round(floor["reports_per_s"] / raw, 3) if raw else None
    if n := sizes["history_reports"]:
        _log(f"(e) cost per report with history, {n:,} reports", results, "e")
        results["e_cost_with_history"] = await history.rate_with_history(stack, tokens, n, first=min(100_000, max(10_000, n // 20)), late_from=n // 2)
        results["d_rss_after_history_mb"] = memory.stack_memory(stack)
    _log(f"cold rebuild from {sizes['ledger_rows']:,} stored reports", results, "rebuild")
    fill = await rebuild.fill_ledger(stack.database_url, max(0, sizes["ledger_rows"] - await _ledger_rows(stack)))
    results["cold_rebuild"] = {**fill, **await rebuild.time_rebuild(stack.database_url)}


async def _ledger_rows(stack: Stack) -> int:
    from shared import db

    pool = await db.create_pool(stack.database_url)
    try:
        return await pool.fetchval("SELECT count(*) FROM ledger")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    for name in SIZES["full"]:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder (logs) afterwards")
    parser.add_argument("--out", type=Path, help="also write the results there, updated at every step")
    args = parser.parse_args()
    if args.out:
        _OUT.append(args.out)
    sizes = dict(SIZES["quick" if args.quick else "full"])
    sizes.update({k: v for k in sizes if (v := getattr(args, k)) is not None})
    workdir = Path(tempfile.mkdtemp(prefix="qm-bench-"))
    # Its own broker and database, and no per-unit rate limit: this measures the pipeline, not the limiter.
    stack = Stack.on_free_ports(workdir, external_kafka=None, external_database=None,
                                env={"QM_SUBMISSION_RATE_PER_S": "1000000", "QM_SUBMISSION_RATE_BURST": "1000000"})
    results: dict = {"sizes": sizes, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                  "load_avg_at_start": os.getloadavg()}}
    try:
        _log(f"starting a stack in {workdir}")
        started = time.perf_counter()
        stack.start(timeout=180)
        results["ready_seconds_fresh_state"] = round(time.perf_counter() - started, 2)
        results["d_rss_at_ready_mb"] = memory.stack_memory(stack)
        asyncio.run(_measure(stack, sizes, results))
        _log("restarting aggregation over the full ledger")
        results["cold_rebuild"].update(rebuild.restart_to_ready(stack))
        results["d_rss_at_end_mb"] = memory.stack_memory(stack)
        results["machine"]["load_avg_at_end"] = os.getloadavg()
    except Exception as exc:  # report what was measured before the failure
        results["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    _save(results)
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
