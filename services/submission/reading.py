"""HTTP routes to read reports back: search (also as CSV or xlsx) and one report's version history."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request

from services.submission import archive
from shared import export
from shared.auth import Principal
from shared.events import StoredText
from shared.refdata import FocusArea
from shared.scope import may_read, visible_units
from shared.openapi import errors
from shared.web import ApiError, issue, principal

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]
State = Literal["pending", "accepted", "accepted_with_warnings", "rejected", "withdrawn", "sent_back"]


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.campaign.timezone)


@router.get("/v1/reports", responses={**export.RESPONSES, **errors(401, 403, 422, 503)})
async def search_reports(
    request: Request, who: Who, unit_id: Annotated[StoredText | None, Query(max_length=64)] = None, day: date | None = None,
    focus_area: FocusArea | None = None, state: State | None = None, format: export.Format = "json",
):
    """The latest version of each report the token may read, newest first, filtered."""
    visible = visible_units(who)
    if unit_id is not None:
        visible = [unit_id] if visible is None or unit_id in visible else []
    found = await archive.versions(request.app.state.pool, visible, None, _tz(request))
    rows = [v for v in archive.latest(found) if archive.matches(v, day and day.isoformat(), focus_area, state)]
    if format != "json":
        return export.respond(format, "reports", archive.COLUMNS, rows)
    return {"reports": rows}


@router.get("/v1/reports/{report_id}", responses=errors(401, 403, 404, 422, 503))
async def report_history(
    request: Request, who: Who, report_id: Annotated[StoredText, Path(max_length=64)],
    unit_id: Annotated[StoredText | None, Query(max_length=64)] = None,
):
    """Every version of one report, oldest first, each with its state, verdict issues and reason."""
    unit = unit_id or who.unit_id
    if unit_id is None and who.role != "unit":
        raise ApiError(422, issue("schema", "District and office tokens add ?unit_id=.", "区和市质量办令牌须附加 ?unit_id= 参数。", "unit_id"))
    found = [] if not may_read(who, unit) else await archive.versions(request.app.state.pool, [unit], report_id, _tz(request))
    if not found:
        raise ApiError(404, issue("not_found", "No such report.", "未找到该报告。"))
    return {"unit_id": unit, "report_id": report_id, "versions": found}
