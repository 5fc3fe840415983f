"""The validation rule table: one passing and one failing case (at least) for every rule code.

The pure rule tests (test_validation_rules.py) and the broker test
(tests/integration/test_validation_stream.py) both run this table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from services.validation.catalogue import PLACEHOLDERS
from shared.events import ActivityReport, ReportSubmitted
from shared.refdata import units
from tests.helpers import report


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # the rule code (or behaviour) the case is about
    body: dict  # overrides of tests.helpers.report
    verdict: str
    codes: tuple[str, ...] = ()  # the issue codes expected, in any order
    before: tuple[dict, ...] = ()  # earlier reports of the same unit (history)
    unit_id: str | None = None  # default: a unit of the case's own, so histories never mix


def _past(n: int, metrics: dict, **extra) -> tuple[dict, ...]:
    return tuple(
        report(f"past-{i}", title=f"往期活动 {i}", started_on=f"2022-09-{10 + i:02d}", metrics=metrics, **extra)
        for i in range(n)
    )


def _b(report_id: str, **overrides) -> dict:
    return report(report_id, **overrides)


CASES: tuple[Case, ...] = (
    Case("known unit", "unit.unknown", _b("u1"), "accepted"),
    Case("unknown unit", "unit.unknown", _b("u2"), "rejected", ("unit.unknown",), unit_id="nobody"),
    Case("known metrics", "metric.unknown", _b("m1", metrics={"activities": 1, "articles": 3}), "accepted"),
    Case("unknown metric", "metric.unknown", _b("m2", metrics={"activities": 1, "likes": 5}), "rejected", ("metric.unknown",)),
    Case("zero is fine", "metric.negative", _b("n1", metrics={"materials": 0}), "accepted"),
    Case("negative count", "metric.negative", _b("n2", metrics={"materials": -5}), "rejected", ("metric.negative",)),
    Case("whole count", "metric.not_integer", _b("i1", metrics={"participants": Decimal("12.0")}), "accepted"),
    Case("fractional count", "metric.not_integer", _b("i2", metrics={"participants": Decimal("12.5")}), "rejected", ("metric.not_integer",)),
    Case("two decimals", "metric.too_many_decimals", _b("d1", metrics={"profit_added": Decimal("1.25")}), "accepted"),
    Case("three decimals", "metric.too_many_decimals", _b("d2", metrics={"profit_added": Decimal("1.255")}), "rejected", ("metric.too_many_decimals",)),
    Case("at the ceiling", "metric.out_of_range", _b("r1", metrics={"participants": 1_000_000}), "accepted"),
    Case("above the ceiling", "metric.out_of_range", _b("r2", metrics={"participants": 1_000_001}), "rejected", ("metric.out_of_range",)),
    Case("amount in 万元 not 亿元", "metric.out_of_range", _b("r3", metrics={"profit_added": 5000}), "rejected", ("metric.out_of_range",)),
    Case("window edges", "date.outside_window", _b("w1", started_on="2022-09-01", ended_on="2022-09-30"), "accepted"),
    Case("starts before", "date.outside_window", _b("w2", started_on="2022-08-31"), "rejected", ("date.outside_window",)),
    Case("ends after", "date.outside_window", _b("w3", started_on="2022-09-29", ended_on="2022-10-01"), "rejected", ("date.outside_window",)),
    Case("one-day", "date.end_before_start", _b("e1", started_on="2022-09-10", ended_on="2022-09-10"), "accepted"),
    Case("ends before it starts", "date.end_before_start", _b("e2", started_on="2022-09-10", ended_on="2022-09-09"), "rejected", ("date.end_before_start",)),
    Case("known district", "district.unknown", _b("k1", district_id="huangpu"), "accepted"),
    Case("unknown district", "district.unknown", _b("k2", district_id="atlantis"), "rejected", ("district.unknown",)),
    Case("supervision with inspections", "focus.metric_required", _b("f1", focus_area="supervision", metrics={"inspections": 3}), "accepted"),
    Case("supervision without", "focus.metric_required", _b("f2", focus_area="supervision", metrics={"activities": 1}), "rejected", ("focus.metric_required",)),
    Case("supervision with zero", "focus.metric_required", _b("f3", focus_area="supervision", metrics={"inspections": 0}), "rejected", ("focus.metric_required",)),
    Case("as many people as firms", "metric.below_related", _b("c1", metrics={"participants": 5, "enterprises": 5}), "accepted"),
    Case("fewer people than firms", "metric.below_related", _b("c2", metrics={"participants": 3, "enterprises": 5}), "rejected", ("metric.below_related",)),
    Case("fewer trainees than firms", "metric.below_related", _b("c3", metrics={"trainees": 2, "trained_enterprises": 3}), "rejected", ("metric.below_related",)),
    Case(
        "a correction is not a duplicate", "duplicate.activity", _b("dup-a", version=2, title="安全生产讲座"), "accepted",
        before=(_b("dup-a", title="安全生产讲座"),),
    ),
    Case(
        "same title, another day", "duplicate.activity", _b("dup-b2", title="安全生产讲座", started_on="2022-09-06"), "accepted",
        before=(_b("dup-b1", title="安全生产讲座"),),
    ),
    Case(
        "the earlier one was withdrawn", "duplicate.activity", _b("dup-c2", title="安全生产讲座"), "accepted",
        before=(_b("dup-c1", title="安全生产讲座"), _b("dup-c1", version=2, title="安全生产讲座", withdrawn=True)),
    ),
    Case(
        "same title and day, another id", "duplicate.activity", _b("dup-d2", title=" 安全生产讲座 "), "accepted_with_warnings",
        ("duplicate.activity",), before=(_b("dup-d1", title="安全生产讲座"),),
    ),
    Case(
        "within ten times the mean", "outlier.above_history", _b("o1", metrics={"participants": 190}), "accepted",
        before=_past(5, {"participants": 20}),
    ),
    Case(
        "far above the unit's history", "outlier.above_history", _b("o2", metrics={"participants": 500}),
        "accepted_with_warnings", ("outlier.above_history",), before=_past(5, {"participants": 20}),
    ),
    Case(
        "rejected reports are no history", "outlier.above_history", _b("o3", metrics={"participants": 500}), "accepted",
        before=_past(5, {"participants": 20, "enterprises": 50}),
    ),
    Case(
        "a withdrawal skips metric rules", "withdrawal",
        _b("x1", withdrawn=True, started_on="2022-08-01", metrics={"participants": -1, "enterprises": 5}), "accepted",
    ),
)


def unit_of(index: int, case: Case) -> str:
    return case.unit_id or list(units())[index]


def submitted(unit_id: str, body: dict, received_at: float | None = None) -> ReportSubmitted:
    return ReportSubmitted(
        received_at=received_at or time.time(),
        campaign_time=datetime(2022, 9, 10, 9, tzinfo=timezone.utc),
        submission_id="sub-test",
        unit_id=unit_id,
        report=ActivityReport.model_validate(body),
    )


def test_every_rule_has_a_passing_and_a_failing_case():
    assert len(CASES) <= len(units()), "each case needs a unit of its own"
    for code in PLACEHOLDERS:
        assert any(code in c.codes for c in CASES), f"no failing case for {code}"
        assert any(c.rule == code and code not in c.codes for c in CASES), f"no passing case for {code}"
