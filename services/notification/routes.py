"""HTTP routes of the notification service: return status, alerts (list, acknowledge), the clock."""
from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request

from services.notification import alerts, returns_store
from shared import audit, export
from shared.auth import Principal
from shared.events import AlertKind, StoredText
from shared.openapi import errors
from shared.scope import visible_units
from shared.web import ApiError, issue, principal

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]
_NOT_FOUND = ApiError(404, issue("not_found", "No such alert.", "未找到该提醒。"))
_ALERT_ID = re.compile(r"[0-9a-f]{32}")  # shared.events.new_id


def _tz(request: Request) -> ZoneInfo:
    """Times are shown in the campaign's zone (Asia/Shanghai), as the schedule is written."""
    return ZoneInfo(request.app.state.campaign.timezone)


RETURN_COLUMNS = [
    ("unit_id", "单位"), ("period_id", "期次"), ("status", "状态"), ("due_at", "截止时间"), ("filed_at", "报送时间"),
    ("escalated", "已督办"),
]
ALERT_COLUMNS = [
    ("id", "提醒编号"), ("kind", "类型"), ("unit_id", "单位"), ("period_id", "期次"), ("raised_at", "发出时间"),
    ("message_zh", "内容"), ("message_en", "内容（英文）"), ("acked", "已确认"), ("acked_at", "确认时间"),
    ("acked_by", "确认人"), ("data", "详情"),
]


@router.get("/v1/returns/status", responses={**export.RESPONSES, **errors(422)})
async def get_returns_status(request: Request, who: Who, period_id: str | None = None, format: export.Format = "json"):
    campaign = request.app.state.campaign
    if period_id is not None and campaign.period(period_id) is None:
        ids = ", ".join(p.period_id for p in campaign.periods)
        raise ApiError(422, issue("unknown_period", f"Unknown period; use one of {ids}.", f"未知报表期次，可选：{ids}。", "period_id"))
    found = await returns_store.statuses(request.app.state.pool, campaign.year, period_id, visible_units(who), _tz(request))
    if format != "json":
        return export.respond(format, "returns-status", RETURN_COLUMNS, found)
    return {"returns": found}


@router.get("/v1/alerts", responses={**export.RESPONSES, **errors(422)})
async def get_alerts(
    request: Request,
    who: Who,
    unit_id: Annotated[StoredText | None, Query(max_length=64)] = None,
    kind: AlertKind | None = None,
    acked: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    format: export.Format = "json",
    cursor: Annotated[str | None, Query(max_length=200, description="`next` of the previous page")] = None,
):
    """Alerts, newest first, a page at a time: follow `next` until it is null to read them all
    (`format=csv|xlsx`: the same page as a file)."""
    after = None
    # The cursor's alert id reaches a query: only the form we write passes (a NUL would be a 500).
    if cursor is not None and ((after := alerts.parse_cursor(cursor)) is None or not _ALERT_ID.fullmatch(after[1])):
        raise ApiError(422, issue("invalid_cursor", "Unknown cursor; pass `next` of the previous page.", "分页游标无效，请使用上一页返回的 next。", "cursor"))
    found, following = await alerts.list_alerts(
        request.app.state.pool, request.app.state.campaign.year, unit_id, kind, acked, limit, visible_units(who), _tz(request), after
    )
    if format != "json":
        return export.respond(format, "alerts", ALERT_COLUMNS, found)
    return {"alerts": found, "next": following}


@router.post("/v1/alerts/{alert_id}/ack", responses=errors(403, 404))
async def ack_alert(alert_id: str, request: Request, who: Who):
    state = request.app.state
    year = state.campaign.year
    # Not an id we could have issued (wrong form, NUL, megabytes): not found, without a query.
    found = await alerts.get(state.pool, year, alert_id) if _ALERT_ID.fullmatch(alert_id) else None
    visible = visible_units(who)
    if found is None or (visible is not None and found["unit_id"] is not None and found["unit_id"] not in visible):
        raise _NOT_FOUND
    if found["unit_id"] is None and who.role != "office":
        # Every token sees a city-wide alert (a milestone); it is the office's to acknowledge, for everyone.
        raise ApiError(403, issue("forbidden.ack", "A city-wide alert (milestone) is acknowledged by the office only.", "全市性提醒（如里程碑）仅由市质量办确认。"))
    acked = await alerts.ack(state.pool, year, alert_id, who.unit_id, state.clock.now(), _tz(request))
    if found["acked_at"] is None:
        await audit.record(state.pool, audit.actor_of(who), "alert.ack", alert_id, details={"unit_id": found["unit_id"], "kind": found["kind"]})
    return acked


@router.get("/v1/clock")
async def get_clock(request: Request):
    return request.app.state.clock.to_dict()
