"""Totals arithmetic: what one report contributes, and how a verdict moves the totals.

Pure: no framework. Values are integers: counts as they are, amounts in hundredths, so every sum
is exact. A report contributes to one group per dimension; a newer version replaces the older
contribution (totals move by the difference), a withdrawal removes it, stale versions do nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from shared.events import ReportValidated
from shared.refdata import metrics

DIMENSIONS = ("city", "unit", "district", "focus_area", "day")
CITY = "all"
TotalKey = tuple[str, str, str]  # (dimension, group, metric_id)


def scale(metric_id: str, value: int | Decimal) -> int:
    metric = metrics().get(metric_id)
    if metric is not None and metric.value_type == "amount":
        return int((Decimal(value) * 100).to_integral_value())
    return int(value)


def unscale(metric_id: str, value: int) -> int | float:
    metric = metrics().get(metric_id)
    if metric is not None and metric.value_type == "amount":
        return float(Decimal(value) / 100)
    return value


@dataclass(frozen=True)
class Entry:
    """The ledger's view of one report: its current version and what it counts for."""

    unit_id: str
    report_id: str
    version: int
    district_id: str | None
    focus_area: str
    day: str
    title: str
    metrics: dict[str, int]
    withdrawn: bool
    campaign_time: str

    def groups(self) -> dict[str, str]:
        return {
            "city": CITY,
            "unit": self.unit_id,
            "district": self.district_id or "",
            "focus_area": self.focus_area,
            "day": self.day,
        }

    def contribution(self) -> dict[TotalKey, int]:
        if self.withdrawn:
            return {}
        return {
            (dim, group, metric): value
            for dim, group in self.groups().items()
            if group
            for metric, value in self.metrics.items()
        }


def entry_of(verdict: ReportValidated) -> Entry:
    r = verdict.report
    return Entry(
        unit_id=verdict.unit_id,
        report_id=r.report_id,
        version=r.version,
        district_id=verdict.district_id,
        focus_area=r.focus_area,
        day=r.started_on.isoformat(),
        title=r.title,
        metrics={m: scale(m, v) for m, v in r.metrics.items()},
        withdrawn=r.withdrawn,
        campaign_time=verdict.campaign_time.isoformat(),
    )


def apply_verdicts(
    ledger: dict[tuple[str, str], Entry], verdicts: list[ReportValidated]
) -> tuple[dict[TotalKey, int], dict[tuple[str, str], Entry]]:
    """Fold verdicts into the ledger (updated in place); return the summed deltas and changed entries."""
    deltas: dict[TotalKey, int] = defaultdict(int)
    changed: dict[tuple[str, str], Entry] = {}
    for verdict in verdicts:
        if verdict.verdict == "rejected":
            continue  # the last accepted version keeps counting
        key = (verdict.unit_id, verdict.report.report_id)
        previous = ledger.get(key)
        if previous is not None and verdict.report.version <= previous.version:
            continue  # stale or redelivered
        entry = entry_of(verdict)
        for k, v in entry.contribution().items():
            deltas[k] += v
        if previous is not None:
            for k, v in previous.contribution().items():
                deltas[k] -= v
        ledger[key] = changed[key] = entry
    return {k: v for k, v in deltas.items() if v}, changed


def sum_entries(entries) -> dict[TotalKey, int]:
    totals: dict[TotalKey, int] = defaultdict(int)
    for entry in entries:
        for k, v in entry.contribution().items():
            totals[k] += v
    return dict(totals)
