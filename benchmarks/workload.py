"""Synthetic but valid activity reports for the benchmarks (the same shape units send)."""
from __future__ import annotations

from datetime import date, timedelta

from shared.refdata import units

START = date(2022, 9, 1)


def unit_ids(n: int = 56) -> list[str]:
    return sorted(units())[:n]


def report(prefix: str, i: int) -> dict:
    focus = ("publicity", "exchange", "improvement", "service")[i % 4]
    return {
        "report_id": f"{prefix}-{i}",
        "version": 1,
        "title": f"基准测试活动 {prefix} {i}",  # a run's titles are its own: no duplicate of an earlier run
        "focus_area": focus,
        "started_on": (START + timedelta(days=i % 30)).isoformat(),
        "metrics": {"activities": 1, "enterprises": 1 + i % 7, "participants": 20 + i % 50},
    }


def batches(prefix: str, count: int, size: int) -> list[list[dict]]:
    reports = [report(prefix, i) for i in range(count)]
    return [reports[i : i + size] for i in range(0, count, size)]
