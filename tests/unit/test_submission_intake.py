"""Pure rules of the submission gate: rate buckets, version planning, body hashes, verdict reading."""
from __future__ import annotations

import orjson
import pytest

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


def test_gate_refuses_unknown_metrics_nul_ids_and_versions_beyond_the_database():
    problems = intake.report_problems(
        [_report("ok", metrics={"activities": 1}), _report("a\x00b"), _report("big", 2**31), _report("m", metrics={"smiles": 1})]
    )
    assert [(p.code, p.field) for p in problems] == [
        ("schema", "reports.1.report_id"), ("schema", "reports.2.version"), ("metric.unknown", "reports.3.metrics.smiles"),
    ]


def test_stale_issue_is_a_warning_in_both_languages():
    found = intake.stale_issue(_report("x", 3))
    assert found["code"] == "version.stale" and found["severity"] == "warning" and "x" in found["message_zh"]


def test_verdicts_read_three_fields_and_refuse_what_is_not_a_verdict():
    good = orjson.dumps({"source_event_id": "e1", "verdict": "rejected", "issues": [{"code": "c"}], "extra": 1})
    assert state_of(good) == ("e1", "rejected", '[{"code":"c"}]')
    for bad in (b"{", b"[]", orjson.dumps({"source_event_id": "e2", "verdict": "maybe"})):
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
