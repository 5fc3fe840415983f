"""The rule catalogue: codes, severities, bilingual messages and thresholds, from YAML."""
from __future__ import annotations

import hashlib

import string
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import audit
from shared.events import Issue
from shared.refdata import FOCUS_AREAS, metrics

# Every code the rules emit, with the placeholders its messages may use: a catalogue that misses a
# code or names an unknown placeholder fails at start-up, not on the first report that trips it.
_METRIC = {"metric", "label_zh", "label_en", "unit_zh", "value"}
PLACEHOLDERS: dict[str, set[str]] = {
    "unit.unknown": {"unit_id"},
    "metric.unknown": {"metric"},
    "metric.negative": _METRIC,
    "metric.not_integer": _METRIC,
    "metric.too_many_decimals": _METRIC | {"decimals"},
    "metric.out_of_range": _METRIC | {"max"},
    "date.outside_window": {"field", "value", "start", "end"},
    "date.end_before_start": {"started_on", "ended_on"},
    "district.unknown": {"district_id"},
    "focus.metric_required": {"focus_area", "focus_zh", "metric", "label_zh", "label_en"},
    "metric.below_related": {
        "metric", "label_zh", "label_en", "value", "other", "other_label_zh", "other_label_en", "other_value",
        "why_zh", "why_en",
    },
    "duplicate.activity": {"title", "day", "other_report_id"},
    "outlier.above_history": _METRIC | {"mean", "factor", "count"},
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleSpec(_Strict):
    """One rule: how severe a finding is and how it is explained."""

    severity: Literal["error", "warning"]
    message_zh: str = Field(min_length=1)
    message_en: str = Field(min_length=1)


class AtLeast(_Strict):
    """Cross-field sense: `metric` is never below `other` in one report."""

    metric: str
    other: str
    why_zh: str
    why_en: str


class Outlier(_Strict):
    factor: Decimal = Field(gt=1)
    min_history: int = Field(ge=1)
    min_value: Decimal = Field(ge=0)


class Thresholds(_Strict):
    amount_decimals: int = Field(ge=0)
    max_value: dict[Literal["count", "amount"], Decimal]
    max_value_by_metric: dict[str, Decimal] = Field(default_factory=dict)
    required_metrics: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    at_least: tuple[AtLeast, ...] = ()
    outlier: Outlier


class Catalogue(_Strict):
    """The whole catalogue, validated: every code present, every placeholder known."""

    rules: dict[str, RuleSpec]
    thresholds: Thresholds

    @model_validator(mode="after")
    def _complete(self) -> "Catalogue":
        missing = sorted(set(PLACEHOLDERS) - set(self.rules))
        unknown = sorted(set(self.rules) - set(PLACEHOLDERS))
        if missing or unknown:
            raise ValueError(f"rule catalogue: missing codes {missing}, unknown codes {unknown}")
        for code, spec in self.rules.items():
            for text in (spec.message_zh, spec.message_en):
                names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
                if names - PLACEHOLDERS[code]:
                    raise ValueError(
                        f"rule catalogue: {code} uses unknown placeholders {sorted(names - PLACEHOLDERS[code])}; "
                        f"it may use {sorted(PLACEHOLDERS[code])}"
                    )
        t = self.thresholds
        named = set(t.max_value_by_metric) | {m for ms in t.required_metrics.values() for m in ms}
        named |= {m for pair in t.at_least for m in (pair.metric, pair.other)}
        if named - set(metrics()) or set(t.required_metrics) - set(FOCUS_AREAS):
            raise ValueError(
                f"rule catalogue: thresholds name unknown metrics {sorted(named - set(metrics()))} "
                f"or focus areas {sorted(set(t.required_metrics) - set(FOCUS_AREAS))}"
            )
        return self

    def issue(self, code: str, field: str | None, /, **params: object) -> Issue:
        spec = self.rules[code]
        return Issue(
            code=code,
            field=field,
            severity=spec.severity,
            message_zh=spec.message_zh.format_map(params),
            message_en=spec.message_en.format_map(params),
        )


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def load_catalogue(override: Path | None = None) -> Catalogue:
    """The packaged catalogue, with the override file (if any) merged over it; raises on a bad file."""
    raw = yaml.safe_load(resources.files("services.validation").joinpath("rules.yaml").read_text(encoding="utf-8"))
    if override is not None:
        raw = _merge(raw, yaml.safe_load(Path(override).read_text(encoding="utf-8")) or {})
    return Catalogue.model_validate(raw)


def fingerprint(catalogue: Catalogue) -> str:
    """sha256 of the effective rules: what the audit trail compares between starts."""
    return hashlib.sha256(catalogue.model_dump_json().encode()).hexdigest()


async def audit_change(pool, catalogue: Catalogue, override: Path | None) -> bool:
    """Record in the audit trail that the rules in force differ from those of the last start."""
    now = fingerprint(catalogue)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7303)")  # two replicas starting record it once
        before = await conn.fetchval(
            "SELECT details->>'sha256' FROM audit_log WHERE action = 'rules.change' ORDER BY seq DESC LIMIT 1"
        )
        if before == now:
            return False
        await audit.record(conn, audit.Actor("validation", "system"), "rules.change", str(override) if override else "rules.yaml",
                           "rules in force differ from the last start", {"sha256": now, "previous_sha256": before})
    return True
