"""Figures phrased at every magnitude from 1 to 10^8: the right direction, about two significant
figures, each metric's 2022 wording, and never a doubled unit word."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from services.aggregation.phrasing import TOLERANCE, labelled, phrase, style_of
from shared.refdata import metrics

MAGNITUDES = sorted(
    {1, 7, 9, 10, 51, 99, 100, 104, 196, 420, 512, 999, 1000, 1032, 1500, 1890, 1950, 2050, 4900, 7300,
     9999, 10000, 10372, 11000, 15000, 19672, 21000, 49000, 99_999, 102_000, 189_000, 196_500, 230_000,
     1_000_000, 1_234_567, 9_990_000, 12_345_678, 99_999_999, 10**8}
    | {int(m * 10**e) for e in range(8) for m in (1.04, 1.11, 1.5, 2.7, 3.33, 5.05, 8.8, 9.6)}
)
APPROXIMATE = [m for m in metrics() if style_of(metrics()[m]).approximate]
EXACT_COUNTS = [m for m in metrics() if not style_of(metrics()[m]).approximate and not style_of(metrics()[m]).amount]
_SAID = re.compile(r"^(近|超过)?([\d.]+)(万|亿)?(余|多)?(.+)$")


def read_back(text: str, unit_word: str) -> tuple[str, Decimal]:
    """What a phrase claims: ('below' | 'above' | 'exact', the mark)."""
    match = _SAID.match(text)
    assert match, text
    near, number, big, over, unit = match.groups()
    assert unit == unit_word, text
    mark = Decimal(number) * {None: 1, "万": 10**4, "亿": 10**8}[big]
    if near == "近":
        return "below", mark
    if near == "超过" or over:
        return "above", mark
    return "exact", mark


@pytest.mark.parametrize("metric_id", APPROXIMATE)
def test_approximate_figures_hold_at_every_magnitude(metric_id):
    unit_word = style_of(metrics()[metric_id]).unit_word
    for value in MAGNITUDES:
        said = phrase(metric_id, value)
        relation, mark = read_back(said, unit_word)
        if relation == "below":
            assert value < mark, said  # 近 only when the true value is under the number
        elif relation == "above":
            assert value > mark, said
        else:
            assert value == mark, said
        assert abs(mark - value) / value <= TOLERANCE, f"{value} said as {said}"
        assert len(str(mark).replace(".", "").rstrip("0")) <= 2 or value < 100 or relation == "exact", said


@pytest.mark.parametrize(
    ("metric_id", "value", "expected"),
    [
        ("activities", 7, "7场"),
        ("activities", 99, "99场"),
        ("activities", 1000, "1000场"),
        ("activities", 1032, "1000多场"),
        ("activities", 1500, "1500场"),
        ("activities", 1890, "近1900场"),
        ("activities", 1950, "近2000场"),
        ("enterprises", 10372, "1万余家"),
        ("enterprises", 11000, "1.1万家"),
        ("enterprises", 15000, "1.5万家"),
        ("enterprises", 15300, "1.5万余家"),
        ("participants", 189_000, "近19万人次"),
        ("participants", 196_500, "近20万人次"),
        ("participants", 230_000, "23万人次"),
        ("participants", 1_234_567, "120万余人次"),
        ("participants", 99_999_999, "近1亿人次"),
        ("participants", 10**8, "1亿人次"),
        ("participants", 123_000_000, "1.2亿余人次"),
        ("course_views", 7300, "超过7000人次"),
        ("course_views", 6990, "近7000人次"),
        ("samples_checked", 19672, "19672个次"),
        ("trainees", 11000, "1.1万员工"),
        ("works_inspected", 51, "51个"),
        ("profit_added", 54.77, "54.77亿元"),
        ("profit_added", 3, "3.00亿元"),
        ("fx_saved", Decimal("7.78"), "7.78亿美元"),
    ],
)
def test_phrasing_table(metric_id, value, expected):
    assert phrase(metric_id, value) == expected


@pytest.mark.parametrize("metric_id", EXACT_COUNTS)
def test_exact_figures_stay_exact(metric_id):
    unit_word = style_of(metrics()[metric_id]).unit_word
    for value in MAGNITUDES:
        assert read_back(phrase(metric_id, value), unit_word) == ("exact", value)


@pytest.mark.parametrize("metric_id", sorted(metrics()))
def test_no_doubled_unit_words(metric_id):
    unit_word = style_of(metrics()[metric_id]).unit_word
    text = labelled(metric_id, 21000)
    label = text[: re.search(r"[近超\d]", text).start()]
    assert not label.endswith(unit_word), text


def test_labels_read_as_2022_did():
    assert labelled("citizens_served", 21000) == "惠及2万余市民"
    assert labelled("trainees", 11000) == "参训1.1万员工"
    assert labelled("inspector_trips", 438) == "出动检查438人次"
    assert labelled("inspections", 4900) == "检查企业近5000场次"
