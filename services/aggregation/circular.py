"""The draft circular (通报): totals phrased the way the campaign office phrases them.

Pure. Headline figures are rounded in words ("1000多场", "近20万人次", "超过7000人次"); precise
figures stay exact ("19672个次", "1.1万员工"); money keeps two decimals ("54.77亿元"). Each
metric's style (approximate or exact, 余/多/超过, its unit word) is read from its 2022 wording in
metrics.csv, so the office's house style lives in data, not code.
"""
from __future__ import annotations

from services.aggregation.phrasing import phrase
from shared.refdata import FOCUS_AREAS, metrics

__all__ = ["draft", "phrase"]

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
