"""Reference data of the campaign: units, metrics and the campaign file (window, return schedule)."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

FOCUS_AREAS: dict[str, str] = {
    "publicity": "质量宣传",
    "exchange": "质量交流",
    "improvement": "质量提升",
    "supervision": "质量监管",
    "service": "质量服务",
}
FocusArea = Literal["publicity", "exchange", "improvement", "supervision", "service"]


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name_zh: str
    name_en: str
    kind: str  # district, bureau, association, enterprise_group
    district_id: str | None
    named_in_circular: bool


@dataclass(frozen=True)
class Metric:
    metric_id: str
    label_zh: str
    label_en: str
    unit_zh: str
    value_type: Literal["count", "amount"]
    headline: bool
    figure_2022: str
    phrase_2022: str


@dataclass(frozen=True)
class Period:
    period_id: str
    label_zh: str
    starts_on: date
    ends_on: date
    due_at: datetime


@dataclass(frozen=True)
class Campaign:
    year: int
    title_zh: str
    timezone: str
    starts_on: date
    ends_on: date
    periods: tuple[Period, ...]
    exempt: dict[str, tuple[str, ...]]
    reminder_before: timedelta
    escalation_after: timedelta
    milestones: dict[str, tuple[int, ...]]

    def period(self, period_id: str) -> Period | None:
        return next((p for p in self.periods if p.period_id == period_id), None)

    def owes(self, unit_id: str, period_id: str) -> bool:
        """Whether a unit is expected to file a return for a period (the completeness denominator)."""
        return period_id not in self.exempt.get(unit_id, ())


# The campaign's own lists replace the packaged 2022 ones (like QM_CAMPAIGN_FILE for the schedule).
UNITS_FILE, METRICS_FILE = "QM_UNITS_FILE", "QM_METRICS_FILE"
UNIT_COLUMNS = ("unit_id", "name_zh", "name_en", "kind", "district_id", "named_in_circular")
METRIC_COLUMNS = ("metric_id", "label_zh", "label_en", "unit_zh", "value_type", "headline", "figure_2022", "phrase_2022")
UNIT_KINDS = ("district", "bureau", "association", "enterprise_group")


def _read_csv(name: str, path: str | Path | None, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("shared.data").joinpath(name).read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{path or name}: missing column(s) {', '.join(missing)}")
    rows = list(reader)
    if not rows:
        raise ValueError(f"{path or name}: no rows")
    return rows


def read_units(path: str | Path | None = None) -> dict[str, Unit]:
    """A units list (units.csv's columns); the packaged one when no path is given."""
    rows = _read_csv("units.csv", path, UNIT_COLUMNS)
    for row in rows:
        if row["kind"] not in UNIT_KINDS:
            raise ValueError(f"{path or 'units.csv'}: unit {row['unit_id']!r} has kind {row['kind']!r}, not one of {UNIT_KINDS}")
    return {
        row["unit_id"]: Unit(
            unit_id=row["unit_id"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            kind=row["kind"],
            district_id=row["district_id"] or None,
            named_in_circular=row["named_in_circular"] == "yes",
        )
        for row in rows
    }


def read_metrics(path: str | Path | None = None) -> dict[str, Metric]:
    """A metrics list (metrics.csv's columns); the packaged one when no path is given."""
    rows = _read_csv("metrics.csv", path, METRIC_COLUMNS)
    for row in rows:
        if row["value_type"] not in ("count", "amount"):
            raise ValueError(f"{path or 'metrics.csv'}: metric {row['metric_id']!r} has value_type {row['value_type']!r}")
    return {
        row["metric_id"]: Metric(
            metric_id=row["metric_id"],
            label_zh=row["label_zh"],
            label_en=row["label_en"],
            unit_zh=row["unit_zh"],
            value_type=row["value_type"],  # type: ignore[arg-type]
            headline=row["headline"] == "yes",
            figure_2022=row["figure_2022"],
            phrase_2022=row["phrase_2022"],
        )
        for row in rows
    }


@lru_cache
def units() -> dict[str, Unit]:
    """The campaign's reporting units: QM_UNITS_FILE, or the packaged 2022 list."""
    return read_units(os.environ.get(UNITS_FILE) or None)


@lru_cache
def districts() -> dict[str, Unit]:
    return {u.unit_id: u for u in units().values() if u.kind == "district"}


@lru_cache
def metrics() -> dict[str, Metric]:
    """The campaign's metrics, in the order the circular reads them: QM_METRICS_FILE, or the packaged 2022 list."""
    return read_metrics(os.environ.get(METRICS_FILE) or None)


def reload() -> None:
    """Forget the lists read so far (after QM_UNITS_FILE / QM_METRICS_FILE changed, e.g. in tests)."""
    for cached in (units, districts, metrics):
        cached.cache_clear()


def headline_metrics() -> list[str]:
    return [m.metric_id for m in metrics().values() if m.headline]


@lru_cache
def load_campaign(path: Path | None = None) -> Campaign:
    """Load a campaign file; the packaged 2022 campaign when no path is given."""
    if path is None:
        text = resources.files("shared.data").joinpath("campaign-2022.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    periods = tuple(
        Period(
            period_id=str(p["id"]),
            label_zh=p["label_zh"],
            starts_on=_as_date(p["starts_on"]),
            ends_on=_as_date(p["ends_on"]),
            due_at=datetime.fromisoformat(str(p["due_at"])),
        )
        for p in raw["periods"]
    )
    for p in periods:
        if p.due_at.tzinfo is None:
            raise ValueError(f"campaign file: due_at of period {p.period_id} needs a UTC offset")
    return Campaign(
        year=int(raw["year"]),
        title_zh=raw.get("title_zh", ""),
        timezone=raw.get("timezone", "Asia/Shanghai"),
        starts_on=_as_date(raw["window"]["starts_on"]),
        ends_on=_as_date(raw["window"]["ends_on"]),
        periods=periods,
        exempt={u: tuple(ps) for u, ps in (raw.get("exempt") or {}).items()},
        reminder_before=timedelta(hours=float(raw.get("reminder_before_hours", 24))),
        escalation_after=timedelta(hours=float(raw.get("escalation_after_hours", 48))),
        milestones={m: tuple(int(v) for v in vs) for m, vs in (raw.get("milestones") or {}).items()},
    )


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
