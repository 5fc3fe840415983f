"""HTTP routes of the aggregation service: totals and their breakdowns."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/v1/totals")
async def get_totals(request: Request, by: Literal["district", "unit", "focus_area", "day"] | None = None):
    totals = request.app.state.totals
    if by is None:
        return {"totals": totals.city(), **totals.freshness()}
    return {"by": by, "groups": totals.by(by), **totals.freshness()}
