"""Validation rules as pure functions: the case table, the catalogue, history and decoding."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.validation.catalogue import PLACEHOLDERS, load_catalogue
from services.validation.handlers import Record, decode_records
from services.validation.history import History
from services.validation.rules import RuleContext
from services.validation.verdicts import judge
from shared.events import encode
from shared.refdata import load_campaign
from tests.helpers import report
from tests.unit.test_validation_cases import CASES, submitted, unit_of

CTX = RuleContext(catalogue=load_catalogue(), campaign=load_campaign())


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c.rule}: {c.name}" for c in CASES])
def test_rule_case(index):
    case = CASES[index]
    unit_id, history = unit_of(index, case), History()
    for body in case.before:
        judge(CTX, history, submitted(unit_id, body))
    verdict = judge(CTX, history, submitted(unit_id, case.body))
    assert (verdict.verdict, sorted(i.code for i in verdict.issues)) == (case.verdict, sorted(case.codes))
    for issue in verdict.issues:
        assert issue.message_zh and issue.message_en and "{" not in issue.message_zh + issue.message_en
        assert issue.severity == CTX.catalogue.rules[issue.code].severity


def test_messages_say_what_and_how_in_both_languages():
    unit_id = "pudong"
    verdict = judge(CTX, History(), submitted(unit_id, report("a", metrics={"profit_added": Decimal("3.141")})))
    (issue,) = verdict.issues
    assert issue.field == "metrics.profit_added"
    assert "新增利润" in issue.message_zh and "3.141" in issue.message_zh and "2 位小数" in issue.message_zh
    assert "profit added" in issue.message_en and "round it" in issue.message_en


def test_every_error_in_a_report_is_reported_at_once():
    body = report("many", started_on="2022-10-02", district_id="atlantis", metrics={"participants": 1, "enterprises": 2})
    verdict = judge(CTX, History(), submitted("pudong", body))
    assert sorted(i.code for i in verdict.issues) == ["date.outside_window", "district.unknown", "metric.below_related"]


def test_only_newer_accepted_versions_move_history():
    history = History()
    judge(CTX, history, submitted("pudong", report("r", version=2, metrics={"participants": 10})))
    judge(CTX, history, submitted("pudong", report("r", version=1, metrics={"participants": 99})))
    judge(CTX, history, submitted("pudong", report("r", version=3, metrics={"participants": -1})))  # rejected
    assert history.stats[("pudong", "participants")].total == 10
    judge(CTX, history, submitted("pudong", report("r", version=4, metrics={"participants": 30})))
    assert (history.stats[("pudong", "participants")].reports, history.stats[("pudong", "participants")].total) == (1, 30)
    judge(CTX, history, submitted("pudong", report("r", version=5, withdrawn=True)))
    assert history.stats[("pudong", "participants")].reports == 0
    assert history.entries[("pudong", "r")].withdrawn


def test_a_correction_is_compared_without_its_own_earlier_version():
    history = History()
    for i in range(5):
        judge(CTX, history, submitted("pudong", report(f"p{i}", started_on=f"2022-09-1{i}", metrics={"participants": 20})))
    # The correction replaces one of the five: the baseline is the other four, below min_history.
    verdict = judge(CTX, history, submitted("pudong", report("p0", version=2, started_on="2022-09-10", metrics={"participants": 900})))
    assert verdict.verdict == "accepted"


def test_override_file_changes_only_what_it_names(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  duplicate.activity: {severity: error}\nthresholds:\n  outlier: {factor: 3}\n", encoding="utf-8"
    )
    catalogue = load_catalogue(path)
    assert catalogue.rules["duplicate.activity"].severity == "error"
    assert catalogue.rules["duplicate.activity"].message_en == load_catalogue().rules["duplicate.activity"].message_en
    assert catalogue.thresholds.outlier.factor == 3 and catalogue.thresholds.outlier.min_history == 5
    assert set(catalogue.rules) == set(PLACEHOLDERS)


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("rules:\n  metric.unknwn: {severity: error, message_zh: x, message_en: x}\n", "unknown codes"),
        ("rules:\n  unit.unknown: {message_en: 'No {unit}'}\n", "unknown placeholders"),
        ("rules:\n  unit.unknown: {severity: fatal}\n", "severity"),
        ("thresholds:\n  required_metrics: {supervision: [inspektions]}\n", "unknown metrics"),
    ],
)
def test_a_bad_override_fails_at_load(tmp_path, text, complaint):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=complaint):
        load_catalogue(path)


def test_undecodable_records_become_dead_letters_with_reasons():
    good = encode(submitted("pudong", report("ok")))
    newer = good.replace(b'"schema_version":1', b'"schema_version":2')
    records = [
        Record("t", 0, 1, b"\xff\xfe garbage"),
        Record("t", 0, 2, b'{"hello": "world"}'),
        Record("t", 0, 3, newer),
        Record("t", 0, 4, good),
    ]
    decoded, dead = decode_records(records)
    assert [r.offset for r, _ in decoded] == [4]
    assert [d.offset for d in dead] == [1, 2, 3]
    assert "undecodable" in dead[0].reason and "report" in dead[1].reason and "newer" in dead[2].reason
    assert dead[1].raw == '{"hello": "world"}'
