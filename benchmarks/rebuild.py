"""Cold rebuild: totals recomputed from N stored reports (the ledger), and the aggregation's restart-to-ready."""
from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta, timezone

import orjson

from benchmarks.workload import unit_ids
from services.aggregation import store
from shared import db

COLUMNS = ["unit_id", "report_id", "version", "district_id", "focus_area", "day", "title", "metrics", "withdrawn", "campaign_time", "campaign"]
CAMPAIGN = 2022  # the rows' dates are the 2022 campaign's
FOCUS = ("publicity", "exchange", "improvement", "supervision", "service")


def _rows(count: int, start: int):
    units, t0, d0 = unit_ids(), datetime(2022, 9, 1, tzinfo=timezone.utc), date(2022, 9, 1)
    for i in range(start, start + count):
        unit = units[i % len(units)]
        yield (unit, f"rb-{i}", 1, units[i % 16], FOCUS[i % 5], d0 + timedelta(days=i % 30), f"活动 {i}",
               {"activities": 1, "enterprises": 1 + i % 9, "participants": 10 + i % 300}, False, t0 + timedelta(seconds=i))


def _csv(rows) -> io.BytesIO:
    # Text COPY: asyncpg has no binary encoder for jsonb.
    text = io.StringIO()
    writer = csv.writer(text)
    for r in rows:
        writer.writerow([*r[:7], orjson.dumps(r[7]).decode(), "f", r[9].isoformat(), CAMPAIGN])
    return io.BytesIO(text.getvalue().encode())


async def fill_ledger(database_url: str, count: int, chunk: int = 200_000) -> dict:
    pool = await db.create_pool(database_url)
    try:
        started = time.perf_counter()
        for start in range(0, count, chunk):
            await pool.copy_to_table("ledger", source=_csv(_rows(min(chunk, count - start), start)), columns=COLUMNS, format="csv")
        await pool.execute("ANALYZE ledger")
        return {"ledger_rows_copied": count, "copy_seconds": round(time.perf_counter() - started, 2),
                "ledger_rows_total": await pool.fetchval("SELECT count(*) FROM ledger")}
    finally:
        await pool.close()


async def time_rebuild(database_url: str) -> dict:
    # The function's name moved as the aggregation service grew: use whichever this tree has.
    rebuild = getattr(store, "rebuild_cells", None) or getattr(store, "rebuild_totals")
    pool = await db.create_pool(database_url)
    try:
        started = time.perf_counter()
        cells = await rebuild(pool, CAMPAIGN)
        return {"rebuild_function": rebuild.__name__, "rebuild_seconds": round(time.perf_counter() - started, 2), "cells": len(cells)}
    finally:
        await pool.close()


def restart_to_ready(stack, service: str = "aggregation", timeout: float = 300) -> dict:
    stack.stop_service(service)
    started = time.perf_counter()
    stack.start_service(service)
    stack.wait_ready(timeout, names=(service,))
    return {"service": service, "restart_to_ready_seconds": round(time.perf_counter() - started, 2)}
