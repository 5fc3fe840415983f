"""HTTP routes of the notification service: alerts and the campaign clock."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.notification import alerts

router = APIRouter()


@router.get("/v1/alerts")
async def get_alerts(
    request: Request,
    unit_id: str | None = None,
    kind: Literal["reminder", "overdue", "escalation", "rejection", "milestone"] | None = None,
    acked: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
):
    return {"alerts": await alerts.list_alerts(request.app.state.pool, unit_id, kind, acked, limit)}


@router.get("/v1/clock")
async def get_clock(request: Request):
    return request.app.state.clock.to_dict()
