"""Figures in the circular's words: "1000多场", "近19万人次", "超过7000人次", "54.77亿元".

Pure. An approximate figure names the coarsest round mark (one significant figure, then two, ...)
that is within `TOLERANCE` of the true value, and always in the right direction: "近X" only when
the value is below X, "X余" / "X多" / "超过X" only when it is above, the bare mark only when it is
exact. Each metric's style (approximate or exact, 余/多/超过, its unit word) is read from its 2022
wording in metrics.csv, so the office's house style lives in data, not code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from shared.refdata import Metric, metrics

_WORDING = re.compile(r"^(近|超过)?([\d.]+万?)(余|多)?(.*)$")
TOLERANCE = Decimal("0.05")  # a mark is named only within 5% of the true value
EXACT_BELOW = 100  # smaller figures are always said exactly ("51个", "7篇")


@dataclass(frozen=True)
class Style:
    approximate: bool
    above: str  # how a figure a little above a mark is said: "余", "多" or "超过"
    unit_word: str
    amount: bool


def style_of(metric: Metric) -> Style:
    match = _WORDING.match(metric.phrase_2022)
    prefix, _, suffix, unit_word = match.groups() if match else (None, "", None, metric.unit_zh)
    return Style(
        approximate=metric.figure_2022.startswith("~") or metric.figure_2022.endswith("+"),
        above="超过" if prefix == "超过" else (suffix or "余"),
        unit_word=unit_word or metric.unit_zh,
        amount=metric.value_type == "amount",
    )


def numeral(value: int) -> str:
    """A whole number as the circular writes it: 1000, 1.1万, 19万, 1200万, 1.2亿 (exact)."""
    for size, word in ((10**8, "亿"), (10**4, "万")):
        if value >= size and value % (size // 10) == 0:
            return _plain(Decimal(value) / size) + word
    return str(value)


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rounded(count: int, above: str = "余") -> str:
    """A count to about two significant figures, never in the wrong direction, e.g. 1890 -> 近1900.

    The coarsest precision with a mark close enough wins; of its two marks, the closer one."""
    if count < EXACT_BELOW:
        return str(count)
    digits = len(str(count))
    for significant in range(1, digits + 1):
        step = 10 ** (digits - significant)
        below = count // step * step
        if count == below:
            return numeral(count)
        upper = below + step
        under, over = upper - count, count - below  # how far each mark is from the truth
        if min(under, over) <= TOLERANCE * count:
            if under < over:
                return f"近{numeral(upper)}"
            return f"超过{numeral(below)}" if above == "超过" else f"{numeral(below)}{above}"
    return numeral(count)  # unreachable: at full precision the count equals its mark


def phrase(metric_id: str, value: int | float | Decimal) -> str:
    """One figure in the circular's words, e.g. phrase("participants", 196500) == "近20万人次"."""
    style = style_of(metrics()[metric_id])
    if style.amount:
        return f"{Decimal(str(value)).quantize(Decimal('0.01'))}{style.unit_word}"
    count = int(value)
    said = rounded(count, style.above) if style.approximate else numeral(count)
    return f"{said}{style.unit_word}"


def labelled(metric_id: str, value: int | float | Decimal) -> str:
    """Label and figure, the unit said once: "惠及2万余市民", not "惠及市民2万余市民"."""
    metric = metrics()[metric_id]
    unit_word = style_of(metric).unit_word
    label = metric.label_zh
    if unit_word and label.endswith(unit_word) and len(label) > len(unit_word):
        label = label[: -len(unit_word)]
    return f"{label}{phrase(metric_id, value)}"
