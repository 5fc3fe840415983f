"""POST /v1/reports/{report_id}/send-back: the office sends a counted report version back to its
unit. One transaction records it, queues the ReportSentBack event in the outbox (aggregation takes
the version out of the totals, notification raises the `sent_back` alert) and writes the audit entry."""
from __future__ import annotations

import time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.submission import archive
from services.submission.store import queue_event
from shared import audit, topics
from shared.auth import Principal
from shared.events import ReportSentBack, StoredText
from shared.refdata import units
from shared.openapi import errors
from shared.web import ApiError, issue, principal

router = APIRouter()
COUNTED = ("accepted", "accepted_with_warnings")


class SendBack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: Annotated[StoredText, Field(min_length=1, max_length=64)]
    reason: Annotated[StoredText, Field(min_length=1, max_length=1000)]


def _answer(found: dict, reason: str) -> JSONResponse:
    body = {"unit_id": found["unit_id"], "report_id": found["report_id"], "version": found["version"], "state": "sent_back", "reason": reason}
    return JSONResponse(body, status_code=202)


@router.post("/v1/reports/{report_id}/send-back", status_code=202, responses=errors(400, 401, 403, 404, 409, 422, 503))
async def send_back(request: Request, report_id: Annotated[StoredText, Path(max_length=64)], body: SendBack, who: Annotated[Principal, Depends(principal)]):
    if who.role != "office":
        raise ApiError(403, issue("forbidden.role", "Only office tokens may send reports back.", "仅市质量办令牌可退回报告。"))
    if not body.reason.strip():
        raise ApiError(422, issue("schema", "Say why the report goes back.", "请填写退回原因。", "reason"))
    state = request.app.state
    if body.unit_id not in units():
        raise ApiError(422, issue("unit.unknown", "Unknown unit_id; see units.csv.", "未知单位编号，请查阅单位清单。", "unit_id"))
    versions = await archive.versions(state.pool, [body.unit_id], report_id, ZoneInfo(state.campaign.timezone))
    if not versions:
        raise ApiError(404, issue("not_found", "No such report.", "未找到该报告。"))
    latest = versions[-1]
    if latest["state"] == "sent_back":
        return _answer(latest, latest["reason"])  # a repeat changes nothing
    if latest["state"] not in COUNTED:
        raise ApiError(409, issue("report.not_counted", f"Only a counted version can be sent back; the latest is {latest['state']}.",
                                  "只能退回已计入统计的版本；该报告的最新版本未计入。", "report_id"))
    event = ReportSentBack(
        received_at=time.time(), campaign_time=state.clock.now(), unit_id=body.unit_id, report_id=report_id,
        version=latest["version"], reason=body.reason.strip(), sent_by=who.token_id,
    )
    async with state.pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            """INSERT INTO report_send_backs (unit_id, report_id, version, reason, event_id, sent_by)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
            body.unit_id, report_id, latest["version"], event.reason, event.event_id, who.token_id,
        )
        if inserted:
            await queue_event(conn, topics.REPORTS_SENT_BACK, event)
            await audit.record(conn, audit.actor_of(who), "report.send_back", f"{body.unit_id}/{report_id}", event.reason,
                               {"version": latest["version"], "event_id": event.event_id})
    state.relay.notify()
    return _answer(latest, event.reason)
