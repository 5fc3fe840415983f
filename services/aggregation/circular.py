"""The draft circular (通报) in the 2022 structure, written from the current reports.

Pure. The same function drafts the live circular and a pinned snapshot: it reads the reports
(ledger rows), never the live table. Figures are phrased by `phrasing`; they appear in the
order of metrics.csv (the order the 2022 circular reads), each metric once: headline metrics in
一、基本情况, every other metric in the section of the focus area where most of it was reported,
attributed to the units that reported most of it, by name.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, ROUND_HALF_UP
from typing import Iterable

from services.aggregation.phrasing import labelled, phrase
from services.aggregation.totals import Entry, unscale
from shared.refdata import FOCUS_AREAS, metrics, units

__all__ = ["draft", "phrase", "city_totals", "render_text"]

ISSUER = "上海市质量工作领导小组办公室"
ADDRESSEES = "市质量工作领导小组各成员单位，各区质量工作领导小组办公室，各有关单位："
NEXT_STEPS = "下一步，【此处由市质量工作领导小组办公室填写下一步工作要求】"
CHINESE_NUMBERS = "一二三四五六七八九十"
# The 2022 headline sentence, figure by figure; other headline metrics are said with their label.
HEADLINE_WORDS = {
    "activities": "全市共开展各类活动{}",
    "enterprises": "参加企业{}",
    "participants": "参与人数{}",
    "articles": "各类报纸、杂志发表专题文章或新闻报道{}",
    "materials": "发放“质量月”活动宣传海报和资料{}",
}
NAMED_SHARE = Decimal("0.8")  # units are named until they account for this much of a figure
MAX_NAMED = 3
TOP_DISTRICTS = 3


def reader_order(metric_ids: Iterable[str]) -> list[str]:
    order = {m: i for i, m in enumerate(metrics())}
    return sorted((m for m in metric_ids if m in order), key=order.__getitem__)


def city_totals(entries: Iterable[Entry]) -> dict[str, int]:
    """Scaled totals (amounts in hundredths) of the reports, in reader order, zeros left out."""
    sums: dict[str, int] = defaultdict(int)
    for entry in entries:
        if not entry.withdrawn:
            for metric, value in entry.metrics.items():
                sums[metric] += value
    return {m: sums[m] for m in reader_order(sums) if sums[m]}


def change_words(now: int, before: int) -> str:
    if now == before:
        return "与上年持平"
    percent = (Decimal(abs(now - before)) * 100 / before).quantize(Decimal(1), ROUND_HALF_UP)
    return f"较上年{'增长' if now > before else '下降'}{percent}%"


def headline_sentence(totals: dict[str, int], previous: dict[str, int] | None) -> str:
    parts = []
    for metric in reader_order(m for m in metrics() if metrics()[m].headline):
        value = totals.get(metric, 0)
        if not value and metric != "activities":
            continue
        words = HEADLINE_WORDS.get(metric)
        said = words.format(phrase(metric, unscale(metric, value))) if words else labelled(metric, unscale(metric, value))
        if previous and previous.get(metric):
            said += f"（{change_words(value, previous[metric])}）"
        parts.append(said)
    return "据统计，" + "，".join(parts) + "。"


def unit_name(unit_id: str) -> str:
    unit = units().get(unit_id)
    return unit.name_zh if unit else unit_id


def _named(contributions: dict[str, int]) -> tuple[list[str], bool]:
    """The units that reported most of a figure (largest first), and whether others reported too."""
    ranked = sorted(contributions, key=lambda u: (-contributions[u], u))
    total, named, covered = sum(contributions.values()), [], 0
    for unit_id in ranked:
        if len(named) == MAX_NAMED or (named and covered >= NAMED_SHARE * total):
            break
        named.append(unit_id)
        covered += contributions[unit_id]
    return named, len(named) < len(ranked)


def _who(unit_ids: list[str], more: bool) -> str:
    names = "、".join(unit_name(u) for u in unit_ids)
    if not more:
        return names
    kinds = {units()[u].kind for u in unit_ids if u in units()}
    return names + {frozenset({"bureau"}): "等部门", frozenset({"district"}): "等区"}.get(frozenset(kinds), "等单位")


def _did(reports: list[Entry]) -> str:
    """What the units did, in the words of their biggest report's title."""
    title = reports[0].title.strip().rstrip("。")
    if len(reports) == 1:
        return f"组织开展{title}"
    return f"组织开展{title}等" + ("" if title.endswith("活动") else "活动")


def _weight(entry: Entry) -> tuple:
    return (-len(entry.metrics), -sum(entry.metrics.values()), entry.title)


class _Reading:
    """The reports grouped the ways the narrative needs them."""

    def __init__(self, entries: Iterable[Entry]):
        self.entries = [e for e in entries if not e.withdrawn]
        self.by_metric_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.by_metric_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.by_metric_reports: dict[str, list[Entry]] = defaultdict(list)
        for entry in self.entries:
            for metric, value in entry.metrics.items():
                self.by_metric_area[metric][entry.focus_area] += value
                self.by_metric_unit[metric][entry.unit_id] += value
                self.by_metric_reports[metric].append(entry)

    def area_of(self, metric: str) -> str:
        areas = self.by_metric_area[metric]
        order = list(FOCUS_AREAS)
        return min(areas, key=lambda a: (-areas[a], order.index(a) if a in order else len(order)))


def _attributions(reading: _Reading, totals: dict[str, int]) -> dict[str, list[dict]]:
    """Per focus area, sentences of figures, each attributed to the units that reported them."""
    groups: dict[str, dict[tuple, list[str]]] = defaultdict(dict)
    for metric in totals:
        if metrics()[metric].headline:
            continue
        named, more = _named(reading.by_metric_unit[metric])
        # Figures from the same reports of the same units make one sentence ("一是...", "二是...").
        sources = frozenset((e.unit_id, e.report_id) for e in reading.by_metric_reports[metric] if e.unit_id in named)
        groups[reading.area_of(metric)].setdefault((tuple(named), more, sources), []).append(metric)
    sentences: dict[str, list[dict]] = {}
    for area, by_units in groups.items():
        sentences[area] = []
        for (named, more, _), metric_ids in by_units.items():
            reports = sorted(
                {(e.unit_id, e.report_id): e for m in metric_ids for e in reading.by_metric_reports[m]
                 if e.unit_id in named}.values(),
                key=_weight,
            )
            figures = "，".join(labelled(m, unscale(m, totals[m])) for m in metric_ids)
            sentences[area].append({
                "units": list(named),
                "metrics": metric_ids,
                "text": f"{_who(list(named), more)}{_did(reports)}，{figures}。",
            })
    return sentences


def _activities_of_note(reading: _Reading, area: str, exclude: set[str]) -> str | None:
    """Other named units' most notable activities in an area (those not already credited with a figure)."""
    by_unit: dict[str, list[Entry]] = defaultdict(list)
    for entry in reading.entries:
        if entry.focus_area == area and entry.unit_id not in exclude and units().get(entry.unit_id, None):
            by_unit[entry.unit_id].append(entry)
    if not by_unit:
        return None
    def size(unit_id: str) -> tuple:
        reports = by_unit[unit_id]
        return (-sum(e.metrics.get("activities", 0) for e in reports), -len(reports), unit_id)

    ranked = sorted(by_unit, key=size)[:MAX_NAMED]
    titles = [sorted(by_unit[u], key=_weight)[0].title.strip().rstrip("。") for u in ranked]
    more = len(by_unit) > len(ranked)
    return f"{_who(ranked, more)}分别开展了{'、'.join(titles)}等{'' if titles[-1].endswith('活动') else '活动'}。"


def top_districts(entries: Iterable[Entry], limit: int = TOP_DISTRICTS) -> list[dict]:
    counts: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.district_id and not entry.withdrawn:
            counts[entry.district_id] += entry.metrics.get("activities", 0)
    ranked = sorted((d for d in counts if counts[d]), key=lambda d: (-counts[d], d))[:limit]
    return [{"district_id": d, "name_zh": unit_name(d), "activities": counts[d]} for d in ranked]


def _districts_sentence(districts: list[dict]) -> str | None:
    if not districts:
        return None
    said = "、".join(f"{d['name_zh']}（{d['activities']}场）" for d in districts)
    return f"各区中，开展活动最多的是{said}。"


def draft(year: int, entries: Iterable[Entry], previous: dict[str, int] | None = None) -> dict:
    """The circular from the reports: its parts, its figures and their attribution, and the full text.

    `previous` is the previous campaign's scaled totals (None when there is none)."""
    reading = _Reading(entries)
    totals = city_totals(reading.entries)
    attributed = _attributions(reading, totals)
    subsections = []
    for area, name in FOCUS_AREAS.items():
        sentences = attributed.get(area, [])
        paragraphs = []
        lead = _activities_of_note(reading, area, {u for s in sentences for u in s["units"]})
        if lead:
            paragraphs.append(lead)
        paragraphs += [s["text"] for s in sentences]
        if paragraphs:
            subsections.append({"heading": f"（{CHINESE_NUMBERS[len(subsections)]}）{name}", "paragraphs": paragraphs})
    districts = top_districts(reading.entries)
    if line := _districts_sentence(districts):
        subsections.append({"heading": f"（{CHINESE_NUMBERS[len(subsections)]}）各区活动", "paragraphs": [line]})
    headline = headline_sentence(totals, previous)
    basics = (
        "“质量月”期间，本市聚焦质量宣传、质量交流、质量提升、质量监管和质量服务等五个方面，"
        f"开展了一系列丰富多彩的活动。{headline}"
    )
    sections = [
        {"heading": "一、基本情况", "level": 1, "paragraphs": [basics]},
        {"heading": "二、主要活动与成效", "level": 1, "paragraphs": []},
        *({"level": 2, **s} for s in subsections),
        {"heading": None, "level": 1, "paragraphs": [NEXT_STEPS]},
    ]
    circular = {
        "year": year,
        "issuer": f"{ISSUER}文件",
        "doc_number": f"沪质办〔{year}〕□号",
        "title": f"{ISSUER}关于{year}年上海市“质量月”活动情况的通报",
        "addressees": ADDRESSEES,
        "opening": (
            f"{year}年全国“质量月”期间，市质量工作领导小组各成员单位组织动员全市各行业、企业和广大市民"
            "开展了一系列丰富多彩的“质量月”活动。现将有关情况通报如下。"
        ),
        "headline": headline,
        "sections": sections,
        "figures": {m: phrase(m, unscale(m, v)) for m, v in totals.items()},
        "values": {m: unscale(m, v) for m, v in totals.items()},
        "attributions": {m: s["units"] for ss in attributed.values() for s in ss for m in s["metrics"]},
        "top_districts": districts,
        "comparison": (
            {m: change_words(v, previous[m]) for m, v in totals.items() if previous.get(m)} if previous else None
        ),
    }
    circular["text"] = render_text(circular)
    return circular


def render_text(circular: dict) -> str:
    """The circular as plain text, in the order the document reads."""
    lines = [circular["issuer"], circular["doc_number"], "", circular["title"], "", circular["addressees"],
             circular["opening"]]
    for section in circular["sections"]:
        if section["heading"]:
            lines.append(section["heading"])
        lines += section["paragraphs"]
    return "\n".join(lines) + "\n"
