"""HTTP routes for the office's follow-up: contacts per unit (read, change) and failed deliveries
(list, retry). Every change is recorded in the audit trail."""
from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request

from services.notification import contacts
from shared import audit
from shared.auth import Principal
from shared.events import StoredText
from shared.refdata import units
from shared.scope import visible_units
from shared.openapi import errors
from shared.web import ApiError, issue, principal

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]


def _office(who: Principal, what: str) -> None:
    if who.role != "office":
        raise ApiError(403, issue("forbidden.role", f"Only office tokens may {what}.", "仅市质量办令牌可执行此操作。"))


@router.get("/v1/contacts", responses=errors(401, 403, 503))
async def list_contacts(request: Request, who: Who):
    """Each visible unit's webhook URL (never its secret) and e-mail addresses."""
    return {"contacts": await contacts.listing(request.app.state.pool, visible_units(who))}


@router.put("/v1/contacts/{unit_id}", responses=errors(400, 401, 403, 404, 422, 503))
async def change_contacts(request: Request, who: Who, unit_id: str, body: contacts.ContactChange):
    _office(who, "change contacts")
    if unit_id != "office" and unit_id not in units():
        raise ApiError(404, issue("not_found", "No such unit.", "未找到该单位。"))
    pool = request.app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        before = await contacts.replace(conn, unit_id, body)
        await audit.record(conn, audit.actor_of(who), "contacts.change", unit_id, body.reason,
                           {"before": before, "after": body.public()})
    return (await contacts.listing(pool, [unit_id]))[0]


@router.get("/v1/deliveries", responses=errors(401, 403, 422, 503))
async def list_deliveries(request: Request, who: Who, status: Literal["pending", "delivered", "dead", "cancelled"] | None = None):
    """Webhook and e-mail deliveries of the campaign's alerts the token may see, newest first (at most 500)."""
    campaign = request.app.state.campaign
    tz = ZoneInfo(campaign.timezone)
    return {"deliveries": await contacts.deliveries(request.app.state.pool, campaign.year, status, visible_units(who), tz)}


@router.post("/v1/deliveries/{delivery_id}/retry", status_code=202, responses=errors(401, 403, 404, 422, 503))
async def retry_delivery(request: Request, who: Who, delivery_id: Annotated[StoredText, Path(max_length=64)]):
    """A dead delivery of the campaign's alerts goes back in the queue with fresh attempts."""
    _office(who, "retry deliveries")
    pool = request.app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now()
               WHERE delivery_id = $1 AND status = 'dead' AND alert_id IN (SELECT alert_id FROM alerts WHERE campaign = $2)
               RETURNING alert_id, channel, target""",
            delivery_id, request.app.state.campaign.year,
        )
        if row is None:
            raise ApiError(404, issue("not_found", "No dead delivery with this id.", "没有该编号的失败投递。"))
        await audit.record(conn, audit.actor_of(who), "delivery.retry", delivery_id, details=dict(row))
    request.app.state.wake_deliveries()
    return {"delivery_id": delivery_id, "status": "pending"}
