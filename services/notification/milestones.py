"""Milestone alerts: a headline total crossing a round mark (e.g. activities pass 1000). Pure."""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from services.notification.deadlines import OFFICE, PlannedAlert
from shared.refdata import Metric


def crossed(
    marks: Mapping[str, tuple[int, ...]], totals: Mapping[str, int | Decimal], metrics: Mapping[str, Metric]
) -> list[PlannedAlert]:
    """Every mark the totals have reached; the dedup key makes each one an alert only once."""
    found = []
    for metric_id, levels in marks.items():
        value = totals.get(metric_id)
        meta = metrics.get(metric_id)
        if value is None or meta is None:
            continue
        for mark in levels:
            if value >= mark:
                found.append(
                    PlannedAlert(
                        f"milestone:{metric_id}:{mark}", "milestone", None, None,
                        f"里程碑：全市{meta.label_zh}突破{mark}{meta.unit_zh}（当前{value}{meta.unit_zh}）。",
                        f"Milestone: city-wide {meta.label_en} passed {mark} (now {value}).",
                        {"metric_id": metric_id, "mark": mark, "value": str(value), "recipients": [OFFICE]},
                    )
                )
    return found
