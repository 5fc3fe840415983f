"""Contracts, clock, campaign and settings: the pieces every service leans on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared import events, topics
from shared.clock import CampaignClock
from shared.refdata import districts, headline_metrics, load_campaign, metrics, units
from shared.settings import CommonSettings

SHANGHAI = timezone(timedelta(hours=8))


def test_reference_data_matches_the_domain():
    assert len(units()) == 56
    assert len(districts()) == 16
    assert headline_metrics() == ["activities", "enterprises", "participants", "articles", "materials"]
    assert metrics()["profit_added"].value_type == "amount"


def test_default_campaign_is_2022_with_four_weekly_returns_and_a_final_one():
    campaign = load_campaign()
    assert [p.period_id for p in campaign.periods] == ["W1", "W2", "W3", "W4", "final"]
    assert campaign.period("final").due_at == datetime(2022, 10, 10, 17, 0, tzinfo=SHANGHAI)
    assert all(p.due_at.hour == 12 for p in campaign.periods[:4])
    # each weekly return is due two days after its week ends
    assert all((p.due_at.date() - p.ends_on).days == 2 for p in campaign.periods[:4])
    assert campaign.owes("pudong", "W1")


def test_accelerated_clock_shares_one_anchor():
    start = datetime(2022, 9, 1, 8, tzinfo=SHANGHAI)
    real = [1000.0]
    clock = CampaignClock(start=start, speed=3600, anchor=1000.0, real_time=lambda: real[0])
    assert clock.now() == start
    real[0] += 2.5
    assert clock.now() == start + timedelta(hours=2.5)
    assert clock.real_seconds_until(start + timedelta(hours=3.5)) == pytest.approx(1.0)


def test_real_time_clock_by_default():
    assert abs((CampaignClock().now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_clock_start_needs_an_offset(monkeypatch):
    monkeypatch.setenv("QM_CLOCK_START", "2022-09-01T08:00:00")
    with pytest.raises(ValidationError, match="UTC offset"):
        CommonSettings()


def test_events_round_trip_and_reject_garbage():
    report = events.ActivityReport(
        report_id="r1", version=2, title="<b>质量</b>", focus_area="service", started_on="2022-09-02",
        metrics={"activities": 1, "profit_added": "1.25"},
    )
    event = events.ReportSubmitted(
        received_at=1.0, campaign_time=datetime(2022, 9, 2, tzinfo=SHANGHAI), submission_id="s", unit_id="samr", report=report
    )
    assert events.decode(events.ReportSubmitted, events.encode(event)) == event
    with pytest.raises(ValidationError):
        events.decode(events.ReportSubmitted, b"\xff not json")
    with pytest.raises(ValidationError):
        events.ActivityReport(report_id="r", version=True, title="t", focus_area="publicity", started_on="2022-09-01")


def test_every_topic_has_one_producer_and_a_unique_name():
    names = [t.name for t in topics.ALL]
    assert len(names) == len(set(names))
    assert {t.producer for t in topics.ALL} <= {"submission", "validation", "aggregation", "notification"}
