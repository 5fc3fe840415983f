"""HTTP routes of the notification service: return status, alerts (list, acknowledge), the clock."""
from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request

from services.notification import alerts, returns_store
from shared.auth import Principal
from shared.events import AlertKind, StoredText
from shared.openapi import errors
from shared.refdata import units
from shared.web import ApiError, issue, principal

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]
_NOT_FOUND = ApiError(404, issue("not_found", "No such alert.", "未找到该提醒。"))
_ALERT_ID = re.compile(r"[0-9a-f]{32}")  # shared.events.new_id


def _tz(request: Request) -> ZoneInfo:
    """Times are shown in the campaign's zone (Asia/Shanghai), as the schedule is written."""
    return ZoneInfo(request.app.state.campaign.timezone)


def visible_units(who: Principal) -> list[str] | None:
    """What a token may read: the office everything, a district its own units, a unit itself."""
    if who.role == "office":
        return None
    if who.role == "district":
        return sorted({who.unit_id} | {u.unit_id for u in units().values() if u.district_id == who.unit_id})
    return [who.unit_id]


@router.get("/v1/returns/status", responses=errors(422))
async def get_returns_status(request: Request, who: Who, period_id: str | None = None):
    campaign = request.app.state.campaign
    if period_id is not None and campaign.period(period_id) is None:
        ids = ", ".join(p.period_id for p in campaign.periods)
        raise ApiError(422, issue("unknown_period", f"Unknown period; use one of {ids}.", f"未知报表期次，可选：{ids}。", "period_id"))
    found = await returns_store.statuses(request.app.state.pool, period_id, visible_units(who), _tz(request))
    return {"returns": found}


@router.get("/v1/alerts", responses=errors(422))
async def get_alerts(
    request: Request,
    who: Who,
    unit_id: Annotated[StoredText | None, Query(max_length=64)] = None,
    kind: AlertKind | None = None,
    acked: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=200, description="`next` of the previous page")] = None,
):
    """Alerts, newest first, a page at a time: follow `next` until it is null to read them all."""
    after = None
    # The cursor's alert id reaches a query: only the form we write passes (a NUL would be a 500).
    if cursor is not None and ((after := alerts.parse_cursor(cursor)) is None or not _ALERT_ID.fullmatch(after[1])):
        raise ApiError(422, issue("invalid_cursor", "Unknown cursor; pass `next` of the previous page.", "分页游标无效，请使用上一页返回的 next。", "cursor"))
    found, following = await alerts.list_alerts(
        request.app.state.pool, unit_id, kind, acked, limit, visible_units(who), _tz(request), after
    )
    return {"alerts": found, "next": following}


@router.post("/v1/alerts/{alert_id}/ack", responses=errors(403, 404))
async def ack_alert(alert_id: str, request: Request, who: Who):
    state = request.app.state
    # Not an id we could have issued (wrong form, NUL, megabytes): not found, without a query.
    found = await alerts.get(state.pool, alert_id) if _ALERT_ID.fullmatch(alert_id) else None
    visible = visible_units(who)
    if found is None or (visible is not None and found["unit_id"] is not None and found["unit_id"] not in visible):
        raise _NOT_FOUND
    if found["unit_id"] is None and who.role != "office":
        # Every token sees a city-wide alert (a milestone); it is the office's to acknowledge, for everyone.
        raise ApiError(403, issue("forbidden.ack", "A city-wide alert (milestone) is acknowledged by the office only.", "全市性提醒（如里程碑）仅由市质量办确认。"))
    return await alerts.ack(state.pool, alert_id, who.unit_id, state.clock.now(), _tz(request))


@router.get("/v1/clock")
async def get_clock(request: Request):
    return request.app.state.clock.to_dict()
