"""HTTP routes of the aggregation service: totals and their breakdowns, and the live stream."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from services.aggregation import circular
from services.aggregation.visibility import View
from shared import export
from shared.auth import Principal
from shared.refdata import metrics
from shared.web import ApiError, issue, principal

router = APIRouter()
AUTH_RESPONSES = {401: {"description": "Missing, unknown or revoked token: `{\"issues\": [...]}`"}}


@router.get("/v1/totals", responses=AUTH_RESPONSES)
async def get_totals(
    request: Request,
    by: Literal["district", "unit", "focus_area", "day"] | None = None,
    format: export.Format = "json",
    caller: Principal = Depends(principal),
):
    """City-wide totals, or one breakdown; what a token sees follows its role (docs/integration.md)."""
    totals = request.app.state.totals
    view = View(caller.role, caller.unit_id)
    if by is None:
        headline = totals.headline(view.headline_scope)
        if format != "json":
            return export.respond(format, "totals", _metric_columns(), [headline])
        return {"totals": headline, **totals.freshness()}
    groups = totals.by(view.scope, by)
    if format != "json":
        rows = [{by: key, **values} for key, values in groups.items()]
        return export.respond(format, f"totals-by-{by}", [(by, BY_ZH[by])] + _metric_columns(), rows)
    return {"by": by, "groups": groups, **totals.freshness()}


BY_ZH = {"district": "区", "unit": "单位", "focus_area": "重点领域", "day": "日期"}


def _metric_columns() -> list[export.Column]:
    return [(m.metric_id, f"{m.label_zh}（{m.unit_zh}）") for m in metrics().values()]


@router.get("/v1/stream", responses=AUTH_RESPONSES, response_class=StreamingResponse)
async def stream(request: Request, caller: Principal = Depends(principal)):
    """Server-Sent Events: a snapshot, then coalesced totals, returns and alerts (at most 10 per second)."""
    live = request.app.state.live
    return StreamingResponse(
        live.events(View(caller.role, caller.unit_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v1/report/circular", responses={**AUTH_RESPONSES, 403: {"description": "Not an office token"}})
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
