"""Totals arithmetic: what one report contributes, and how a verdict moves the totals.

Pure: no framework. Values are integers: counts as they are, amounts in hundredths, so every sum
is exact. A report contributes to one group per dimension, in each scope that may see it: the
whole city, the district where it took place, and its own unit (what district and unit tokens
read). A newer version replaces the older contribution (totals move by the difference), a
withdrawal removes it, stale or redelivered versions and rejections change nothing.

Deltas are summed per cell (unit, district, focus area, day, metric) first and only then spread
over scopes and dimensions, so the per-report work stays small whatever the number of views.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timezone
from decimal import Decimal
from typing import Iterable

from shared.events import ReportSentBack, ReportValidated
from shared.refdata import metrics

DIMENSIONS = ("city", "unit", "district", "focus_area", "day")
CITY = "all"  # the city scope, and the one group of the city dimension
TotalKey = tuple[str, str, str, str]  # (scope, dimension, group, metric_id)
Cell = tuple[str, str, str, str, str]  # (unit_id, district_id or "", focus_area, day, metric_id)


def district_scope(district_id: str) -> str:
    return f"district:{district_id}"


def unit_scope(unit_id: str) -> str:
    return f"unit:{unit_id}"


def scopes_of(entry: "Entry") -> tuple[str, ...]:
    """The scopes a report counts in: the city, its unit, and the district where it took place."""
    return (CITY, unit_scope(entry.unit_id)) + ((district_scope(entry.district_id),) if entry.district_id else ())


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


def unscale_exact(metric_id: str, value: int) -> int | Decimal:
    """Like `unscale`, but amounts as Decimal (for events, whose contract carries decimals)."""
    metric = metrics().get(metric_id)
    if metric is not None and metric.value_type == "amount":
        return Decimal(value) / 100
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

    def cells(self) -> dict[Cell, int]:
        if self.withdrawn:
            return {}
        return {
            (self.unit_id, self.district_id or "", self.focus_area, self.day, metric): value
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
        # In UTC, as the ledger gives it back: an entry reads the same whether folded here or read from there.
        campaign_time=verdict.campaign_time.astimezone(timezone.utc).isoformat(),
    )


def apply_verdicts(
    ledger: dict[tuple[str, str], Entry], verdicts: Iterable[ReportValidated]
) -> tuple[dict[Cell, int], dict[tuple[str, str], Entry]]:
    """Fold verdicts into the ledger (updated in place); return the summed cell deltas and changed entries."""
    deltas: dict[Cell, int] = defaultdict(int)
    changed: dict[tuple[str, str], Entry] = {}
    for verdict in verdicts:
        if verdict.verdict == "rejected":
            continue  # the last accepted version keeps counting
        key = (verdict.unit_id, verdict.report.report_id)
        previous = ledger.get(key)
        if previous is not None and verdict.report.version <= previous.version:
            continue  # stale or redelivered
        entry = entry_of(verdict)
        for cell, value in entry.cells().items():
            deltas[cell] += value
        if previous is not None:
            for cell, value in previous.cells().items():
                deltas[cell] -= value
        ledger[key] = changed[key] = entry
    return {c: v for c, v in deltas.items() if v}, changed


def apply_send_backs(
    ledger: dict[tuple[str, str], Entry], send_backs: Iterable[ReportSentBack]
) -> tuple[dict[Cell, int], dict[tuple[str, str], Entry]]:
    """A version sent back stops counting (kept in the ledger as withdrawn at the same version, so a
    higher one counts again); a send-back of another version than the current, or a repeat, changes nothing."""
    deltas: dict[Cell, int] = defaultdict(int)
    changed: dict[tuple[str, str], Entry] = {}
    for sent in send_backs:
        key = (sent.unit_id, sent.report_id)
        previous = ledger.get(key)
        if previous is None or previous.version != sent.version or previous.withdrawn:
            continue
        for cell, value in previous.cells().items():
            deltas[cell] -= value
        ledger[key] = changed[key] = replace(previous, withdrawn=True)
    return {c: v for c, v in deltas.items() if v}, changed


def expand(cells: dict[Cell, int]) -> dict[TotalKey, int]:
    """Spread cell values over every scope and dimension they count in (sums of equal keys add up)."""
    totals: dict[TotalKey, int] = defaultdict(int)
    for (unit, district, focus, day, metric), value in cells.items():
        groups = (("city", CITY), ("unit", unit), ("district", district), ("focus_area", focus), ("day", day))
        scopes = (CITY, unit_scope(unit)) + ((district_scope(district),) if district else ())
        for scope in scopes:
            for dim, group in groups:
                if group:
                    totals[(scope, dim, group, metric)] += value
    return {k: v for k, v in totals.items() if v}


def sum_entries(entries: Iterable[Entry]) -> dict[TotalKey, int]:
    cells: dict[Cell, int] = defaultdict(int)
    for entry in entries:
        for cell, value in entry.cells().items():
            cells[cell] += value
    return expand(cells)
