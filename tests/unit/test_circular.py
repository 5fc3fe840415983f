"""The draft circular phrases totals as the 2022 circular did (metrics.csv, phrase_2022)."""
from __future__ import annotations

import pytest

from services.aggregation.circular import draft, phrase
from shared.refdata import metrics

# A raw total consistent with each 2022 figure: the phrasing must give back the 2022 wording.
RAW_2022 = {
    "activities": 1032, "enterprises": 10230, "participants": 196500, "articles": 196, "materials": 102000,
    "volunteers": 104, "citizens_served": 21000, "ads": 512, "course_views": 7300, "trained_enterprises": 2050,
    "trainees": 11000, "one_stop_platforms": 40, "entities_served": 49000, "enterprises_helped": 2100,
    "chief_quality_officers": 420, "improvement_enterprises": 168, "improvement_projects": 212,
    "key_industry_projects": 188, "profit_added": 54.77, "fx_saved": 7.78, "energy_saved": 8.46,
    "inspections": 4900, "works_inspected": 51, "rectification_orders": 34, "monitoring_institutions": 62,
    "inspector_trips": 438, "projects_sampled": 111, "samples_checked": 19672,
}


@pytest.mark.parametrize("metric_id", sorted(metrics()))
def test_every_2022_figure_is_phrased_as_the_circular_did(metric_id):
    assert phrase(metric_id, RAW_2022[metric_id]) == metrics()[metric_id].phrase_2022


@pytest.mark.parametrize(
    ("metric_id", "value", "expected"),
    [
        ("activities", 1000, "1000场"),
        ("activities", 1950, "近2000场"),
        ("activities", 1500, "1500场"),
        ("participants", 230000, "23万人次"),
        ("articles", 7, "7篇"),
        ("profit_added", 3, "3.00亿元"),
    ],
)
def test_round_marks_near_and_above(metric_id, value, expected):
    assert phrase(metric_id, value) == expected


def test_draft_opens_with_the_headline_sentence():
    text = draft(2022, {m: RAW_2022[m] for m in RAW_2022}, {"supervision": {"inspections": 4900}})
    assert "全市共开展各类活动1000多场，参加企业1万余家，参与人数近20万人次" in text
    assert "新闻报道近200篇" in text and "宣传海报和资料10万余份" in text
    assert "（质量监管）检查企业近5000场次。" in text
