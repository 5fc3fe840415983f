"""Pure rules of the submission gate: rate buckets, version planning, body hashes, verdict reading."""
from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from services.submission import intake
from services.submission.ratelimit import TokenBuckets
from services.submission.verdicts import state_of
from shared.events import ActivityReport


def _report(report_id: str, version: int = 1, **kw) -> ActivityReport:
    return ActivityReport(report_id=report_id, version=version, title="t", focus_area="service", started_on="2022-09-02", **kw)


def test_buckets_allow_a_burst_then_the_steady_rate_per_unit():
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=2, burst=3, now=lambda: now[0])
    assert [buckets.allow("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.allow("a") == 0.5  # seconds until the next token
    assert buckets.allow("b") == 0  # another unit has its own bucket
    now[0] = 0.5
    assert buckets.allow("a") == 0
    now[0] = 100
    assert [buckets.allow("a") for _ in range(4)] == [0, 0, 0, 0.5]  # refills only up to the burst


def test_the_highest_version_of_a_report_in_a_batch_is_the_one_that_counts():
    batch = [_report("x", 2), _report("y"), _report("x", 5), _report("x", 5), _report("x", 1)]
    assert intake.newest_in_batch(batch) == {"x": 2, "y": 1}


def test_body_hash_ignores_spacing_and_key_order_but_not_content_or_endpoint():
    a = intake.body_hash("/v1/reports", b'{"reports": [{"a": 1, "b": 2}]}')
    assert a == intake.body_hash("/v1/reports", b'{"reports":[{"b":2,"a":1}]}')
    assert a != intake.body_hash("/v1/reports", b'{"reports": [{"a": 1, "b": 3}]}')
    assert a != intake.body_hash("/v1/returns", b'{"reports": [{"a": 1, "b": 2}]}')


def test_idempotency_keys_are_visible_ascii():
    assert intake.valid_idempotency_key("2022-09-05/batch#17")
    assert not any(map(intake.valid_idempotency_key, ["", "a b", "x" * 256, "键", "a\x00"]))


def test_gate_refuses_unknown_metrics_and_versions_beyond_the_database():
    problems = intake.report_problems(
        [_report("ok", metrics={"activities": 1}), _report("big", 2**31), _report("m", metrics={"smiles": 1})]
    )
    assert [(p.code, p.field) for p in problems] == [
        ("schema", "reports.1.version"), ("metric.unknown", "reports.2.metrics.smiles"),
    ]


def _door_errors(report: dict) -> list[tuple[str, tuple]]:
    body = {"reports": [{"report_id": "r", "version": 1, "title": "t", "focus_area": "service", "started_on": "2022-09-02", **report}]}
    with pytest.raises(ValidationError) as caught:
        intake.ReportsRequest.model_validate_json(orjson.dumps(body))
    return [(e["type"], e["loc"]) for e in caught.value.errors()]


@pytest.mark.parametrize("field", ["report_id", "title", "district_id"])
def test_text_postgresql_cannot_store_is_refused_at_the_door(field):
    # A NUL once reached validation's history table and stalled every unit's reports (issue 16).
    assert _door_errors({field: "a\x00b"}) == [("text.nul", ("reports", 0, field))]
    with pytest.raises(ValidationError, match="text.nul"):
        intake.ReturnRequest.model_validate_json(orjson.dumps({"period_id": "W1", "note": "\x00"}))


@pytest.mark.parametrize("value", ["5", "５", " 5 ", "1_000", "1e999999999", True, None, [1], {"v": 1}])
def test_metric_values_are_json_numbers_only(value):
    assert _door_errors({"metrics": {"activities": value}}) == [("number.type", ("reports", 0, "metrics", "activities"))]


@pytest.mark.parametrize("raw", [b"18446744073709551616", b"9223372036854775808", b"1000000000000000", b"1e999999999", b"-1e300"])
def test_metric_values_beyond_what_storage_holds_are_refused(raw):
    body = b'{"reports": [{"report_id": "r", "version": 1, "title": "t", "focus_area": "service", "started_on": "2022-09-02", "metrics": {"activities": ' + raw + b"}}]}"
    with pytest.raises(ValidationError) as caught:
        intake.ReportsRequest.model_validate_json(body)
    assert [e["type"] for e in caught.value.errors()] == ["number.out_of_range"]


def test_metric_numbers_keep_their_exact_value():
    body = b'{"reports": [{"report_id": "r", "version": 1, "title": "t", "focus_area": "service", "started_on": "2022-09-02", "metrics": {"activities": 999999999999999, "investment": 12.34, "fee": 0.1}}]}'
    metrics = intake.ReportsRequest.model_validate_json(body).reports[0].metrics
    assert metrics == {"activities": 999999999999999, "investment": Decimal("12.34"), "fee": Decimal("0.1")}
    assert type(metrics["activities"]) is int


def test_stale_issue_is_a_warning_in_both_languages():
    found = intake.stale_issue(_report("x", 3))
    assert found["code"] == "version.stale" and found["severity"] == "warning" and "x" in found["message_zh"]


def test_verdicts_read_four_fields_and_refuse_what_is_not_a_verdict():
    good = orjson.dumps({"submission_id": "s1", "source_event_id": "e1", "verdict": "rejected", "issues": [{"code": "c"}], "extra": 1})
    assert state_of(good) == ("s1", "e1", "rejected", [{"code": "c"}])
    for bad in (b"{", b"[]", orjson.dumps({"submission_id": "s2", "source_event_id": "e2", "verdict": "maybe"}),
                orjson.dumps({"source_event_id": "e3", "verdict": "accepted"})):
        with pytest.raises(Exception):  # the inbox dead-letters it
            state_of(bad)


def test_batch_records_are_exactly_the_contract_encoding():
    from datetime import datetime, timedelta, timezone

    from services.submission.wire import submitted_batch
    from shared.events import ReportSubmitted, encode

    reports = [_report("a", metrics={"activities": 2, "amount_invested": "1.25"}), _report("b", 3, withdrawn=True, district_id="pudong")]
    instant = datetime(2022, 9, 5, 10, 30, tzinfo=timezone(timedelta(hours=8)))
    batch = submitted_batch(reports, submission_id="s1", unit_id="pudong", received_at=1662345000.5, campaign_time=instant)
    for event_id, value, r in zip(batch.event_ids, batch.values, reports):
        expected = ReportSubmitted(event_id=event_id, received_at=1662345000.5, campaign_time=instant, submission_id="s1", unit_id="pudong", report=r)
        assert value == encode(expected)
    assert len(set(batch.event_ids)) == 2


def test_reports_parsed_at_the_door_become_the_contract_encoding():
    from datetime import datetime, timezone

    from services.submission.wire import submitted_batch
    from shared.events import ReportSubmitted, encode

    body = b'{"reports": [{"report_id": "r", "version": 1, "title": "t", "focus_area": "service", "started_on": "2022-09-02", "metrics": {"activities": 3, "amount_invested": 1.25}}]}'
    [parsed] = intake.ReportsRequest.model_validate_json(body).reports
    instant = datetime(2022, 9, 5, tzinfo=timezone.utc)
    batch = submitted_batch([parsed], submission_id="s", unit_id="pudong", received_at=1.0, campaign_time=instant)
    contract = ActivityReport.model_validate(parsed.model_dump())
    expected = ReportSubmitted(event_id=batch.event_ids[0], received_at=1.0, campaign_time=instant, submission_id="s", unit_id="pudong", report=contract)
    assert batch.values == [encode(expected)] and b'"amount_invested":"1.25"' in batch.values[0]
