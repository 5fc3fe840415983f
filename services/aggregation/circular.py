"""The draft circular (通报): totals phrased the way the campaign office phrases them.

Pure. Headline figures are rounded in words ("1000多场", "近20万人次", "超过7000人次"); precise
figures stay exact ("19672个次", "1.1万员工"); money keeps two decimals ("54.77亿元"). Each
metric's style (approximate or exact, 余/多/超过, its unit word) is read from its 2022 wording in
metrics.csv, so the office's house style lives in data, not code.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from shared.refdata import FOCUS_AREAS, Metric, metrics

_NUMBER = re.compile(r"^(近|超过)?([\d.]+万?)(余|多)?(.*)$")
NEAR = Decimal("0.05")  # "近" when the value is within 5% below a round mark


@dataclass(frozen=True)
class Style:
    approximate: bool
    above: str  # how a figure a little above a mark is said: "余", "多" or "超过"
    unit_word: str
    amount: bool


def style_of(metric: Metric) -> Style:
    match = _NUMBER.match(metric.phrase_2022)
    prefix, _, suffix, unit_word = match.groups() if match else (None, "", None, metric.unit_zh)
    above = "超过" if prefix == "超过" else (suffix or "余")
    return Style(
        approximate=metric.figure_2022.startswith("~") or metric.figure_2022.endswith("+"),
        above=above,
        unit_word=unit_word or metric.unit_zh,
        amount=metric.value_type == "amount",
    )


def _wan(value: int) -> str:
    if value >= 10000 and value % 1000 == 0:
        return f"{value / 10000:g}万"
    return str(value)


def phrase(metric_id: str, value: int | float | Decimal) -> str:
    """One figure in the circular's words, e.g. phrase("participants", 196500) == "近20万人次"."""
    style = style_of(metrics()[metric_id])
    if style.amount:
        return f"{Decimal(str(value)).quantize(Decimal('0.01'))}{style.unit_word}"
    count = int(value)
    if not style.approximate or count < 10:
        return f"{_wan(count)}{style.unit_word}"
    magnitude = 10 ** int(math.log10(count))
    below, above = (count // magnitude) * magnitude, (count // magnitude + 1) * magnitude
    if count == below:
        return f"{_wan(count)}{style.unit_word}"
    if Decimal(above - count) / above <= NEAR:
        return f"近{_wan(above)}{style.unit_word}"
    if style.above == "超过":
        return f"超过{_wan(below)}{style.unit_word}"
    return f"{_wan(below)}{style.above}{style.unit_word}"


def draft(year: int, totals: dict[str, int | float], by_focus: dict[str, dict[str, int | float]]) -> str:
    """The circular's opening figures and a per-area summary, ready for the office to edit."""
    said = {m: phrase(m, v) for m, v in totals.items() if m in metrics() and v}
    head = (
        f"{year}年全国“质量月”期间，据统计，全市共开展各类活动{said.get('activities', '0场')}，"
        f"参加企业{said.get('enterprises', '0家')}，参与人数{said.get('participants', '0人次')}，"
        f"各类报纸、杂志发表专题文章或新闻报道{said.get('articles', '0篇')}，"
        f"发放“质量月”活动宣传海报和资料{said.get('materials', '0份')}。"
    )
    lines = [f"关于{year}年“质量月”活动情况的通报（草稿）", "", "一、基本情况", "", head, "", "二、主要活动与成效", ""]
    for area, name in FOCUS_AREAS.items():
        figures = by_focus.get(area, {})
        if not figures:
            continue
        parts = "，".join(f"{metrics()[m].label_zh}{phrase(m, v)}" for m, v in figures.items() if m in metrics() and v)
        lines.append(f"（{name}）{parts}。")
    others = [m for m in said if not metrics()[m].headline]
    if others:
        lines += ["", "其他数据：" + "，".join(f"{metrics()[m].label_zh}{said[m]}" for m in others) + "。"]
    return "\n".join(lines) + "\n"
