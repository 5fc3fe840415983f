"""Alert texts and the alert store: each alert raised once (by dedup key), acknowledgeable."""
from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.events import AlertRaised, ReportValidated, decode, encode, new_id


def rejection_alert(verdict: ReportValidated, now: datetime) -> tuple[str, AlertRaised]:
    reasons_zh = "；".join(i.message_zh for i in verdict.issues if i.severity == "error")
    reasons_en = "; ".join(i.message_en for i in verdict.issues if i.severity == "error")
    r = verdict.report
    alert = AlertRaised(
        received_at=verdict.received_at,
        campaign_time=verdict.campaign_time,
        alert_id=new_id(),
        kind="rejection",
        unit_id=verdict.unit_id,
        raised_at=now,
        message_zh=f"活动报告“{r.title}”（{r.report_id} 第{r.version}版）未通过校验：{reasons_zh}",
        message_en=f"Report '{r.title}' ({r.report_id} v{r.version}) was rejected: {reasons_en}",
        data={"report_id": r.report_id, "version": r.version, "submission_id": verdict.submission_id,
              "issues": [i.model_dump() for i in verdict.issues]},
    )
    return f"rejection:{verdict.source_event_id}", alert


async def raise_alerts(pool: asyncpg.Pool, keyed: list[tuple[str, AlertRaised]]) -> list[AlertRaised]:
    """Store alerts not raised before (by dedup key); return those still to publish."""
    if not keyed:
        return []
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO alerts (alert_id, dedup_key, kind, unit_id, period_id, raised_at, message_zh, message_en, data, event)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedup_key) DO NOTHING""",
            [
                (a.alert_id, key, a.kind, a.unit_id, a.period_id, a.raised_at, a.message_zh, a.message_en, a.data, encode(a))
                for key, a in keyed
            ],
        )
        rows = await conn.fetch(
            "SELECT event FROM alerts WHERE dedup_key = ANY($1::text[]) AND NOT emitted", [k for k, _ in keyed]
        )
    return [decode(AlertRaised, r["event"]) for r in rows]


async def mark_emitted(pool: asyncpg.Pool, alerts: list[AlertRaised]) -> None:
    await pool.execute("UPDATE alerts SET emitted = true WHERE alert_id = ANY($1::text[])", [a.alert_id for a in alerts])


async def list_alerts(pool: asyncpg.Pool, unit_id: str | None, kind: str | None, acked: bool | None, limit: int) -> list[dict]:
    rows = await pool.fetch(
        """SELECT alert_id, kind, unit_id, period_id, raised_at, message_zh, message_en, acked_at IS NOT NULL AS acked
           FROM alerts
           WHERE ($1::text IS NULL OR unit_id = $1) AND ($2::text IS NULL OR kind = $2)
             AND ($3::boolean IS NULL OR (acked_at IS NOT NULL) = $3)
           ORDER BY raised_at DESC, alert_id LIMIT $4""",
        unit_id, kind, acked, limit,
    )
    return [
        {"id": r["alert_id"], "kind": r["kind"], "unit_id": r["unit_id"], "period_id": r["period_id"],
         "raised_at": r["raised_at"].isoformat(), "message_zh": r["message_zh"], "message_en": r["message_en"],
         "acked": r["acked"]}
        for r in rows
    ]
