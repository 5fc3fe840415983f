"""The office's pages (a district token sees the same, limited to its district by the services):
overview, returns board, alerts inbox, reports and their history, exports, contacts, audit log,
and (office only) the circular: the live draft, its snapshots and their Word and Markdown files."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.console import views
from services.console.routes import download, page
from services.console.session import Desk, Office
from shared import audit
from shared.refdata import units

router = APIRouter(include_in_schema=False)


def _back(request: Request, fallback: str) -> RedirectResponse:
    return RedirectResponse(request.headers.get("referer") or fallback, status_code=303)


@router.get("/overview")
async def overview(request: Request, who: Desk):
    b = request.app.state.backends
    totals, returns, alerts = await asyncio.gather(
        b.get("aggregation", "/v1/totals", who.token),
        b.get("notification", "/v1/returns/status", who.token),
        b.get("notification", "/v1/alerts", who.token, acked="false", limit=1000),
    )
    return page(request, "overview.html", who=who, totals=totals, completeness=views.completeness(returns["returns"]),
                periods=request.app.state.campaign.periods, open_alerts=len(alerts["alerts"]))


@router.get("/returns")
async def returns_board(request: Request, who: Desk, district: str | None = None, kind: str | None = None):
    b = request.app.state.backends
    returns, contacts = await asyncio.gather(
        b.get("notification", "/v1/returns/status", who.token), b.get("notification", "/v1/contacts", who.token),
    )
    periods, rows = views.board(returns["returns"], units(), district or None, kind or None)
    districts = sorted(u for u, v in units().items() if v.kind == "district")
    return page(request, "returns.html", who=who, periods=periods, rows=rows, district=district, kind=kind,
                districts=districts, contacts={c["unit_id"]: c for c in contacts["contacts"]})


@router.get("/contacts/{unit_id}")
async def contacts_form(request: Request, who: Office, unit_id: str):
    found = await request.app.state.backends.get("notification", "/v1/contacts", who.token)
    current = next((c for c in found["contacts"] if c["unit_id"] == unit_id), {"unit_id": unit_id, "webhook_url": None, "email": []})
    return page(request, "contacts.html", who=who, contact=current)


@router.post("/contacts/{unit_id}")
async def change_contacts(
    request: Request, who: Office, unit_id: str, webhook_url: Annotated[str, Form()] = "",
    webhook_secret: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
):
    body = {
        "webhook": {"url": webhook_url.strip(), "secret": webhook_secret.strip()} if webhook_url.strip() else None,
        "email": [e.strip() for e in email.replace("，", ",").replace("\n", ",").split(",") if e.strip()],
        "reason": reason,
    }
    await request.app.state.backends.call("PUT", "notification", f"/v1/contacts/{unit_id}", who.token, json=body)
    return RedirectResponse("/returns", status_code=303)


@router.get("/alerts")
async def alerts_inbox(request: Request, who: Desk, kind: str | None = None, acked: str | None = None, unit_id: str | None = None):
    b = request.app.state.backends
    found, dead = await asyncio.gather(
        b.get("notification", "/v1/alerts", who.token, kind=kind, acked=acked, unit_id=unit_id, limit=500),
        b.get("notification", "/v1/deliveries", who.token, status="dead"),
    )
    return page(request, "alerts.html", who=who, alerts=found["alerts"], dead=dead["deliveries"],
                kind=kind, acked=acked, unit_id=unit_id)


@router.post("/alerts/{alert_id}/ack")
async def ack_alert(request: Request, who: Desk, alert_id: str):
    acked = (await request.app.state.backends.call("POST", "notification", f"/v1/alerts/{alert_id}/ack", who.token)).json()
    if request.headers.get("hx-request"):
        return page(request, "alert_row.html", who=who, alert=acked)
    return _back(request, "/alerts")


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(request: Request, who: Office, delivery_id: str):
    await request.app.state.backends.call("POST", "notification", f"/v1/deliveries/{delivery_id}/retry", who.token)
    return _back(request, "/alerts")


@router.get("/reports")
async def reports(
    request: Request, who: Desk, unit_id: str | None = None, day: str | None = None,
    focus_area: str | None = None, state: str | None = None,
):
    found = await request.app.state.backends.get(
        "submission", "/v1/reports", who.token, unit_id=unit_id, day=day, focus_area=focus_area, state=state,
    )
    return page(request, "reports.html", who=who, reports=found["reports"],
                query={"unit_id": unit_id or "", "day": day or "", "focus_area": focus_area or "", "state": state or ""})


@router.get("/reports/{unit_id}/{report_id}")
async def report_history(request: Request, who: Desk, unit_id: str, report_id: str):
    found = await request.app.state.backends.get("submission", f"/v1/reports/{report_id}", who.token, unit_id=unit_id)
    return page(request, "report.html", who=who, report=found, versions=list(reversed(found["versions"])))


@router.post("/reports/{unit_id}/{report_id}/send-back")
async def send_back(request: Request, who: Office, unit_id: str, report_id: str, reason: Annotated[str, Form(max_length=1000)] = ""):
    await request.app.state.backends.call(
        "POST", "submission", f"/v1/reports/{report_id}/send-back", who.token, json={"unit_id": unit_id, "reason": reason},
    )
    return RedirectResponse(f"/reports/{unit_id}/{report_id}", status_code=303)


@router.get("/exports")
async def exports(request: Request, who: Desk):
    return page(request, "exports.html", who=who)


@router.get("/circular")
async def circular(request: Request, who: Office):
    b = request.app.state.backends
    draft, pinned = await asyncio.gather(
        b.get("aggregation", "/v1/report/circular", who.token), b.get("aggregation", "/v1/report/circular/snapshots", who.token),
    )
    return page(request, "circular.html", who=who, draft=draft, snapshots=pinned["snapshots"])


@router.post("/circular/snapshots")
async def pin_circular(request: Request, who: Office):
    await request.app.state.backends.call("POST", "aggregation", "/v1/report/circular/snapshots", who.token, ok=(201,))
    return RedirectResponse("/circular", status_code=303)


@router.get("/circular/file")
async def circular_file(request: Request, who: Office, format: Literal["md", "docx"], snapshot_id: str | None = None):
    """The live draft or a snapshot as a file, fetched with the session's token: links carry none."""
    path = "/v1/report/circular" + (f"/snapshots/{quote(snapshot_id, safe='')}" if snapshot_id else "")
    return download(await request.app.state.backends.call("GET", "aggregation", path, who.token, params={"format": format}))


@router.get("/audit")
async def audit_log(request: Request, who: Office, action: str | None = None):
    rows = await audit.entries(request.app.state.pool, action or None)
    return page(request, "audit.html", who=who, entries=rows, actions=audit.ACTIONS_ZH, action=action)
