"""The draft circular phrases totals as the 2022 circular did (metrics.csv, phrase_2022)."""
from __future__ import annotations

import pytest

from dataclasses import replace

from services.aggregation.circular import city_totals, draft, phrase
from services.aggregation.phrasing import labelled
from shared.refdata import metrics, units
from tests import circular_2022

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


def test_2022_data_drafts_the_2022_headline_in_the_2022_wording():
    circular = draft(2022, circular_2022.entries())
    assert circular["headline"] == (
        "据统计，全市共开展各类活动1000多场，参加企业1万余家，参与人数近20万人次，"
        "各类报纸、杂志发表专题文章或新闻报道近200篇，发放“质量月”活动宣传海报和资料10万余份。"
    )
    assert circular["headline"] in circular["text"]
    assert circular["figures"] == {m: metrics()[m].phrase_2022 for m in metrics()}
    assert list(circular["figures"]) == list(metrics())  # reader order, as the 2022 circular reads


def test_2022_figures_are_attributed_as_2022_attributes_them():
    circular = draft(2022, circular_2022.entries())
    assert circular["attributions"] == circular_2022.ATTRIBUTED_2022
    sentences = [p for s in circular["sections"] for p in s["paragraphs"]]
    for metric_id, unit_ids in circular_2022.ATTRIBUTED_2022.items():
        figure = labelled(metric_id, circular["values"][metric_id])
        assert metrics()[metric_id].phrase_2022 in figure
        said = [p for p in sentences if figure in p]
        assert len(said) == 1, (metric_id, said)
        names = "、".join(units()[u].name_zh for u in unit_ids)
        assert said[0].startswith(names), said[0]
    assert "市水务局组织开展水务建设工程质量月综合大检查，检查水务建设工程51个，整改指令34份。" in sentences
    assert any(p.startswith("市市场监管局、市农业农村委等部门") and "检查企业近5000场次" in p for p in sentences)
    assert any("惠及2万余市民" in p and p.startswith("市总工会") for p in sentences)


def test_the_2022_structure_in_order():
    circular = draft(2022, circular_2022.entries())
    text = circular["text"]
    order = [circular["issuer"], "沪质办〔2022〕", circular["title"], "市质量工作领导小组各成员单位", "一、基本情况",
             "二、主要活动与成效", "（一）质量宣传", "各区中，开展活动最多的是浦东新区", "下一步，"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert [d["district_id"] for d in circular["top_districts"]] == ["pudong", "huangpu", "jingan"]


def test_each_metric_is_said_once():
    circular = draft(2022, circular_2022.entries())
    for metric_id in metrics():
        label = labelled(metric_id, circular["values"][metric_id])
        if metrics()[metric_id].headline:
            label = metrics()[metric_id].phrase_2022
        assert circular["text"].count(label) == 1, metric_id


def test_no_doubled_unit_words_in_the_text():
    text = draft(2022, circular_2022.entries())["text"]
    for doubled in ("惠及市民2万余市民", "参训员工1.1万员工", "检查人次438人次"):
        assert doubled not in text


def test_comparison_with_the_previous_campaign():
    previous = city_totals(circular_2022.entries())
    now = [e for e in circular_2022.entries()]
    now.append(replace(now[-1], report_id="extra", metrics={"activities": 124, "participants": 0}))
    circular = draft(2023, now, previous)
    assert "全市共开展各类活动近1200场（较上年增长12%）" in circular["headline"]
    assert "参加企业1万余家（与上年持平）" in circular["headline"]
    assert circular["comparison"]["activities"] == "较上年增长12%"
    assert draft(2023, now)["comparison"] is None
