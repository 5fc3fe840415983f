"""A unit's accepted history and the rules that need it: duplicate activities and outliers.

Pure: the store loads the slice of history a batch needs (its reports, their title/day keys and
their units' statistics) into a History, the rules read it, accepted verdicts update it, and the
store writes back what changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from services.validation.rules import RuleContext, metric_params
from shared.events import ActivityReport, Issue
from shared.refdata import metrics

ReportKey = tuple[str, str]  # (unit_id, report_id)
TitleKey = tuple[str, str, str]  # (unit_id, normalised title, day)
StatKey = tuple[str, str]  # (unit_id, metric_id)


def title_key(title: str) -> str:
    """Titles compare without case and with runs of whitespace folded."""
    return " ".join(title.split()).casefold()


@dataclass(frozen=True)
class Entry:
    """The current accepted version of one report, as history keeps it."""

    version: int
    title_key: str
    day: str
    metrics: dict[str, Decimal]
    withdrawn: bool


@dataclass
class Stat:
    """How many of the unit's current reports carry a metric, and their sum."""

    reports: int = 0
    total: Decimal = Decimal(0)


@dataclass
class History:
    entries: dict[ReportKey, Entry] = field(default_factory=dict)
    titles: dict[TitleKey, set[str]] = field(default_factory=dict)  # report ids, withdrawn ones left out
    stats: dict[StatKey, Stat] = field(default_factory=dict)
    changed_entries: set[ReportKey] = field(default_factory=set)
    changed_stats: set[StatKey] = field(default_factory=set)

    def duplicates(self, unit_id: str, report: ActivityReport) -> list[str]:
        """Other reports of the unit with the same title on the same day (a correction is not one)."""
        key = (unit_id, title_key(report.title), report.started_on.isoformat())
        return sorted(self.titles.get(key, set()) - {report.report_id})

    def baseline(self, unit_id: str, report: ActivityReport, metric_id: str) -> Stat:
        """The unit's statistics for a metric without this report's own earlier version."""
        stat = self.stats.get((unit_id, metric_id), Stat())
        previous = self.entries.get((unit_id, report.report_id))
        if previous is not None and not previous.withdrawn and metric_id in previous.metrics:
            return Stat(stat.reports - 1, stat.total - previous.metrics[metric_id])
        return stat

    def record(self, unit_id: str, report: ActivityReport) -> None:
        """Fold an accepted report in; an equal or older version changes nothing (as in the totals)."""
        key = (unit_id, report.report_id)
        previous = self.entries.get(key)
        if previous is not None and report.version <= previous.version:
            return
        if previous is not None:
            self._count(unit_id, key[1], previous, -1)
        entry = Entry(
            version=report.version,
            title_key=title_key(report.title),
            day=report.started_on.isoformat(),
            metrics={m: Decimal(v) for m, v in report.metrics.items()},
            withdrawn=report.withdrawn,
        )
        self._count(unit_id, key[1], entry, +1)
        self.entries[key] = entry
        self.changed_entries.add(key)

    def _count(self, unit_id: str, report_id: str, entry: Entry, sign: int) -> None:
        if entry.withdrawn:
            return
        ids = self.titles.setdefault((unit_id, entry.title_key, entry.day), set())
        if sign > 0:
            ids.add(report_id)
        else:
            ids.discard(report_id)
        for metric_id, value in entry.metrics.items():
            stat = self.stats.setdefault((unit_id, metric_id), Stat())
            stat.reports += sign
            stat.total += sign * value
            self.changed_stats.add((unit_id, metric_id))


def check_history(ctx: RuleContext, history: History, unit_id: str, report: ActivityReport) -> list[Issue]:
    """Warnings that compare the report with the unit's earlier accepted reports."""
    if report.withdrawn:
        return []
    catalogue, known = ctx.catalogue, metrics()
    issues = [
        catalogue.issue(
            "duplicate.activity", "title", title=report.title, day=report.started_on.isoformat(), other_report_id=other
        )
        for other in history.duplicates(unit_id, report)[:1]
    ]
    rule = catalogue.thresholds.outlier
    for metric_id, value in report.metrics.items():
        metric = known.get(metric_id)
        if metric is None or value < rule.min_value:
            continue
        base = history.baseline(unit_id, report, metric_id)
        if base.reports < rule.min_history:
            continue
        mean = base.total / base.reports
        if value > rule.factor * mean:
            issues.append(
                catalogue.issue(
                    "outlier.above_history", f"metrics.{metric_id}", mean=_round(mean), factor=rule.factor,
                    count=base.reports, **metric_params(metric, value),
                )
            )
    return issues


def _round(value: Decimal) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".")
