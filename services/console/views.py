"""What the pages show, computed from the services' answers: plain functions over plain data."""
from __future__ import annotations

import re
import secrets
from collections import defaultdict
from typing import Any, Mapping

from shared.refdata import Unit, metrics

STATUS_ZH = {
    "not_due": "未到期", "filed_on_time": "按时报送", "filed_late": "逾期补报", "overdue": "逾期未报", "escalated": "已督办",
}
REPORT_STATE_ZH = {
    "pending": "校验中", "accepted": "已通过", "accepted_with_warnings": "通过（有提示）", "rejected": "未通过",
    "withdrawn": "已撤回", "sent_back": "已退回修改",
}
ALERT_KIND_ZH = {
    "reminder": "报表提醒", "overdue": "报表逾期", "escalation": "逾期督办", "rejection": "校验未通过",
    "milestone": "里程碑", "sent_back": "退回修改",
}
UNIT_KIND_ZH = {"district": "区", "bureau": "委办局", "association": "协会", "enterprise_group": "企业集团"}
_INTEGER = re.compile(r"-?\d+")


def completeness(returns: list[dict]) -> dict[str, dict]:
    """Per period: expected, filed on time, filed late, overdue, not yet, and the filed rate."""
    out: dict[str, dict] = {}
    for r in returns:
        p = out.setdefault(r["period_id"], {"expected": 0, "filed_on_time": 0, "filed_late": 0, "overdue": 0, "not_yet": 0})
        p["expected"] += 1
        p[r["status"] if r["status"] in ("filed_on_time", "filed_late", "overdue") else "not_yet"] += 1
    for p in out.values():
        p["rate"] = round((p["filed_on_time"] + p["filed_late"]) / p["expected"], 4) if p["expected"] else 0.0
    return out


def board(returns: list[dict], units: Mapping[str, Unit], district: str | None, kind: str | None) -> tuple[list[str], list[dict]]:
    """Units x periods, the units with an overdue return first (then by how many), filtered by the
    district a unit belongs to and by its kind."""
    periods: list[str] = []
    cells: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in returns:
        if r["period_id"] not in periods:
            periods.append(r["period_id"])
        cells[r["unit_id"]][r["period_id"]] = r
    rows = []
    for unit_id, by_period in cells.items():
        unit = units.get(unit_id)
        home = unit.district_id or (unit_id if unit and unit.kind == "district" else None) if unit else None
        if district and home != district:
            continue
        if kind and (unit is None or unit.kind != kind):
            continue
        overdue = sum(1 for c in by_period.values() if c["status"] == "overdue")
        rows.append({"unit_id": unit_id, "unit": unit, "cells": by_period, "overdue": overdue})
    rows.sort(key=lambda r: (-r["overdue"], r["unit_id"]))
    return periods, rows


def parse_metric(text: str) -> Any:
    """A form's number as JSON wants it; anything else goes through as text for the API to judge."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        return float(text) if re.fullmatch(r"-?\d+\.\d+", text) else text
    except ValueError:
        return text


def report_from_form(form: Mapping[str, str]) -> dict:
    """The report form's fields are the API's field names; an empty report_id is generated."""
    report: dict[str, Any] = {
        "report_id": (form.get("report_id") or "").strip() or f"web-{secrets.token_hex(6)}",
        "version": int(form["version"]) if _INTEGER.fullmatch(form.get("version") or "") else 1,
        "title": form.get("title") or "",
        "focus_area": form.get("focus_area") or "",
        "started_on": form.get("started_on") or "",
        "metrics": {},
    }
    for optional in ("ended_on", "district_id"):
        if value := (form.get(optional) or "").strip():
            report[optional] = value
    for metric_id in metrics():
        if value := (form.get(f"metrics.{metric_id}") or "").strip():
            report["metrics"][metric_id] = parse_metric(value)
    if form.get("withdrawn") == "true":
        report["withdrawn"] = True
    return report


def form_from_report(report: Mapping[str, Any], next_version: int) -> dict[str, str]:
    """A stored version as the form's field values, to correct it with the next version."""
    values = {k: str(report.get(k) or "") for k in ("report_id", "title", "focus_area", "started_on", "ended_on", "district_id")}
    values["version"] = str(next_version)
    values.update({f"metrics.{m}": str(v) for m, v in (report.get("metrics") or {}).items()})
    return values


def issue_by_field(issues: list[dict]) -> dict[str, list[str]]:
    """Issues of a submission keyed by the form field they name (`reports.0.metrics.x` -> `metrics.x`)."""
    out: dict[str, list[str]] = defaultdict(list)
    for i in issues:
        name = re.sub(r"^reports\.\d+\.", "", i.get("field") or "") or "_"
        name = re.sub(r"\.(int|decimal)$", "", name)  # pydantic names each branch of `int | Decimal`
        message = i.get("message_zh") or i.get("message_en") or ""
        if message not in out[name] and not (out[name] and name.startswith("metrics.")):
            out[name].append(message)
    return dict(out)
