"""Reports read back: every published version of a unit's reports with its verdict, for the search
and the version history (the report itself is the ReportSubmitted value kept in the outbox)."""
from __future__ import annotations

from datetime import tzinfo

import asyncpg
import orjson

COLUMNS = [
    ("unit_id", "单位"), ("report_id", "报告编号"), ("version", "版本"), ("title", "标题"),
    ("focus_area", "重点领域"), ("started_on", "开始日期"), ("ended_on", "结束日期"), ("district_id", "所在区"),
    ("state", "状态"), ("reason", "退回原因"), ("withdrawn", "已撤回"), ("received_at", "接收时间"), ("metrics", "指标"),
]
STATES = ("pending", "accepted", "accepted_with_warnings", "rejected", "withdrawn", "sent_back")


async def versions(pool: asyncpg.Pool, units: list[str] | None, report_id: str | None, tz: tzinfo) -> list[dict]:
    """Every published version (stale ones were never published), oldest first per report."""
    rows = await pool.fetch(
        # The wanted submissions first, then their outbox rows unnested once each (a request's events
        # are stored side by side in one row) and matched to the reports by event id.
        """WITH wanted AS MATERIALIZED (
               SELECT submission_id, unit_id, received_at FROM submissions
               WHERE kind = 'reports' AND ($1::text[] IS NULL OR unit_id = ANY($1))),
           stored AS (
               SELECT u.event_id, u.value FROM wanted w JOIN outbox o ON o.submission_id = w.submission_id,
                      unnest(o.event_ids, o.record_values) AS u(event_id, value))
           SELECT s.unit_id, s.submission_id, s.received_at, r.report_id, r.version, r.state, r.issues, o.value,
                  b.reason, b.sent_at
           FROM wanted s
           JOIN submission_reports r ON r.submission_id = s.submission_id
           JOIN stored o ON o.event_id = r.event_id
           LEFT JOIN report_send_backs b ON b.unit_id = s.unit_id AND b.report_id = r.report_id AND b.version = r.version
           WHERE ($2::text IS NULL OR r.report_id = $2)
           ORDER BY s.unit_id, r.report_id, r.version""",
        units, report_id,
    )
    return [_version(r, tz) for r in rows]


def _version(r: asyncpg.Record, tz: tzinfo) -> dict:
    report = orjson.loads(r["value"])["report"]
    withdrawn = bool(report.get("withdrawn"))
    state = "withdrawn" if withdrawn and r["state"] in ("accepted", "accepted_with_warnings") else r["state"]
    return {
        "unit_id": r["unit_id"], "report_id": r["report_id"], "version": r["version"],
        "title": report["title"], "focus_area": report["focus_area"], "started_on": report["started_on"],
        "ended_on": report.get("ended_on"), "district_id": report.get("district_id"), "metrics": report.get("metrics", {}),
        "withdrawn": withdrawn, "state": "sent_back" if r["reason"] is not None else state, "reason": r["reason"],
        "sent_back_at": r["sent_at"].astimezone(tz).isoformat() if r["sent_at"] else None,
        "issues": r["issues"], "submission_id": r["submission_id"], "received_at": r["received_at"].astimezone(tz).isoformat(),
    }


def latest(all_versions: list[dict]) -> list[dict]:
    """The highest version of each (unit, report), newest reports first."""
    best: dict[tuple[str, str], dict] = {}
    for v in all_versions:
        key = (v["unit_id"], v["report_id"])
        if key not in best or v["version"] > best[key]["version"]:
            best[key] = v
    return sorted(best.values(), key=lambda v: (v["received_at"], v["unit_id"], v["report_id"]), reverse=True)


def matches(v: dict, day: str | None, focus_area: str | None, state: str | None) -> bool:
    return (
        (day is None or v["started_on"] == day)
        and (focus_area is None or v["focus_area"] == focus_area)
        and (state is None or v["state"] == state)
    )
