"""HTTP routes of the aggregation service: totals and their breakdowns, and the live stream."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from services.aggregation import circular
from services.aggregation.visibility import View
from shared.auth import Principal
from shared.openapi import errors
from shared.web import ApiError, issue, principal, principal_or_query_token

router = APIRouter()
AUTH_RESPONSES = errors(401, 503)


@router.get("/v1/totals", responses={**AUTH_RESPONSES, **errors(422)})
async def get_totals(
    request: Request,
    by: Literal["district", "unit", "focus_area", "day"] | None = None,
    caller: Principal = Depends(principal),
):
    """City-wide totals, or one breakdown; what a token sees follows its role (docs/integration.md)."""
    totals = request.app.state.totals
    view = View(caller.role, caller.unit_id)
    if by is None:
        return {"totals": totals.headline(view.headline_scope), **totals.freshness()}
    return {"by": by, "groups": totals.by(view.scope, by), **totals.freshness()}


_EVENTS = {200: {"description": "Server-Sent Events (docs/integration.md)", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@router.get("/v1/stream", responses={**_EVENTS, **AUTH_RESPONSES}, response_class=StreamingResponse)
async def stream(request: Request, caller: Principal = Depends(principal_or_query_token)):
    """Server-Sent Events: a snapshot, then coalesced totals, returns and alerts (at most 10 per second)."""
    live = request.app.state.live
    return StreamingResponse(
        live.events(View(caller.role, caller.unit_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v1/report/circular", responses={**AUTH_RESPONSES, **errors(403)})
async def circular_draft(request: Request, caller: Principal = Depends(principal)):
    """The draft circular (通报): the city's figures phrased as the office phrases them."""
    if caller.role != "office":
        raise ApiError(403, issue("forbidden.role", "Only office tokens may draft the circular.", "仅市质量办令牌可生成通报草稿。"))
    totals, year = request.app.state.totals, request.app.state.campaign.year
    city, by_focus = totals.headline(), totals.by(View("office", "office").scope, "focus_area")
    return {
        "year": year,
        "figures": {m: circular.phrase(m, v) for m, v in city.items() if v},
        "text": circular.draft(year, city, by_focus),
        **totals.freshness(),
    }
