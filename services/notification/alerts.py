"""The alert store: each alert raised once per campaign (by dedup key), queued for delivery,
acknowledgeable; every read stays in the running campaign (its year)."""
from __future__ import annotations

import base64
import time
from datetime import datetime, tzinfo

import asyncpg

from services.notification import delivery
from services.notification.deadlines import PlannedAlert, recipients
from shared.events import AlertRaised, ReportSentBack, ReportValidated, encode, new_id
from shared.refdata import units


def rejection_alert(verdict: ReportValidated) -> PlannedAlert:
    reasons_zh = "；".join(i.message_zh for i in verdict.issues if i.severity == "error")
    reasons_en = "; ".join(i.message_en for i in verdict.issues if i.severity == "error")
    r = verdict.report
    return PlannedAlert(
        f"rejection:{verdict.source_event_id}", "rejection", verdict.unit_id, None,
        f"活动报告“{r.title}”（{r.report_id} 第{r.version}版）未通过校验：{reasons_zh}",
        f"Report '{r.title}' ({r.report_id} v{r.version}) was rejected: {reasons_en}",
        {"report_id": r.report_id, "version": r.version, "submission_id": verdict.submission_id,
         "issues": [i.model_dump() for i in verdict.issues], "recipients": recipients("rejection", units().get(verdict.unit_id))},
    )


def sent_back_alert(sent: ReportSentBack) -> PlannedAlert:
    return PlannedAlert(
        f"sent_back:{sent.unit_id}:{sent.report_id}:{sent.version}", "sent_back", sent.unit_id, None,
        f"活动报告 {sent.report_id}（第{sent.version}版）被市质量办退回修改：{sent.reason}。请更正后以更高版本号重新报送。",
        f"Report {sent.report_id} (v{sent.version}) was sent back for correction: {sent.reason}. Send a corrected, higher version.",
        {"report_id": sent.report_id, "version": sent.version, "reason": sent.reason,
         "recipients": recipients("sent_back", units().get(sent.unit_id))},
    )


def to_event(planned: PlannedAlert, now: datetime) -> AlertRaised:
    return AlertRaised(
        received_at=time.time(), campaign_time=now, alert_id=new_id(), kind=planned.kind,  # type: ignore[arg-type]
        unit_id=planned.unit_id, period_id=planned.period_id, raised_at=now,
        message_zh=planned.message_zh, message_en=planned.message_en, data=planned.data,
    )


async def insert(
    conn: asyncpg.Connection, campaign: int, planned: list[PlannedAlert], now: datetime, channels: tuple[str, ...]
) -> list[AlertRaised]:
    """Store the alerts not raised before in this campaign and queue their deliveries (call inside a transaction);
    returns the alerts raised now."""
    fresh = []
    for p in planned:
        a = to_event(p, now)
        inserted = await conn.fetchval(
            """INSERT INTO alerts (alert_id, dedup_key, kind, unit_id, period_id, raised_at, message_zh, message_en, data, event, campaign)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (campaign, dedup_key) DO NOTHING RETURNING alert_id""",
            a.alert_id, p.dedup_key, a.kind, a.unit_id, a.period_id, a.raised_at, a.message_zh, a.message_en, a.data, encode(a),
            campaign,
        )
        if inserted:
            await delivery.enqueue(conn, a.alert_id, a.data.get("recipients", []), channels)
            fresh.append(a)
    return fresh


def _view(r: asyncpg.Record, tz: tzinfo | None) -> dict:
    return {
        "id": r["alert_id"], "kind": r["kind"], "unit_id": r["unit_id"], "period_id": r["period_id"],
        "raised_at": r["raised_at"].astimezone(tz).isoformat(), "message_zh": r["message_zh"], "message_en": r["message_en"],
        "acked": r["acked_at"] is not None, "acked_at": r["acked_at"].astimezone(tz).isoformat() if r["acked_at"] else None,
        "acked_by": r["acked_by"], "data": r["data"],
    }


_COLUMNS = "alert_id, kind, unit_id, period_id, raised_at, message_zh, message_en, acked_at, acked_by, data"


def _cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(f"{row['raised_at_key']}|{row['id']}".encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The position after which the next page starts, or None for a cursor we did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, alert_id = raw.partition("|")
        found = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (found, alert_id) if alert_id and found.tzinfo is not None else None


async def list_alerts(
    pool: asyncpg.Pool, campaign: int, unit_id: str | None, kind: str | None, acked: bool | None, limit: int,
    visible: list[str] | None, tz: tzinfo | None = None, after: tuple[datetime, str] | None = None,
) -> tuple[list[dict], str | None]:
    """A page of the campaign's alerts, newest first, and the cursor of the next page (None on the last one);
    `visible` limits to those units (None: all), alerts about no unit are for everyone."""
    after_at, after_id = after or (None, None)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM alerts
           WHERE campaign = $8 AND ($1::text IS NULL OR unit_id = $1) AND ($2::text IS NULL OR kind = $2)
             AND ($3::boolean IS NULL OR (acked_at IS NOT NULL) = $3)
             AND ($5::text[] IS NULL OR unit_id IS NULL OR unit_id = ANY($5))
             AND ($6::timestamptz IS NULL OR raised_at < $6 OR (raised_at = $6 AND alert_id > $7))
           ORDER BY raised_at DESC, alert_id LIMIT $4 + 1""",
        unit_id, kind, acked, limit, visible, after_at, after_id, campaign,
    )
    page = rows[:limit]
    following = None
    if len(rows) > limit:
        last = page[-1]
        following = _cursor({"raised_at_key": last["raised_at"].isoformat(), "id": last["alert_id"]})
    return [_view(r, tz) for r in page], following


async def get(pool: asyncpg.Pool, campaign: int, alert_id: str, tz: tzinfo | None = None) -> dict | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = $1 AND campaign = $2", alert_id, campaign)
    return _view(row, tz) if row else None


async def ack(pool: asyncpg.Pool, campaign: int, alert_id: str, by: str, at: datetime, tz: tzinfo | None = None) -> dict | None:
    """Acknowledge once (at campaign time `at`): a repeated ack keeps the first time and person."""
    await pool.execute(
        "UPDATE alerts SET acked_at = $3, acked_by = $2 WHERE alert_id = $1 AND campaign = $4 AND acked_at IS NULL",
        alert_id, by, at, campaign,
    )
    return await get(pool, campaign, alert_id, tz)
