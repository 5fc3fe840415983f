"""A unit's pages, for a unit without a system of its own: its reports (correct, withdraw), the
report form, returns, and the spreadsheet import."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from services.console import views
from services.console.backends import BackendError
from services.console.routes import page
from services.console.session import Unit

router = APIRouter(include_in_schema=False)


@router.get("/unit")
async def unit_home(request: Request, who: Unit):
    b = request.app.state.backends
    reports, returns, alerts = await asyncio.gather(
        b.get("submission", "/v1/reports", who.token),
        b.get("notification", "/v1/returns/status", who.token),
        b.get("notification", "/v1/alerts", who.token, unit_id=who.principal.unit_id, limit=50),
    )
    return page(request, "unit.html", who=who, reports=reports["reports"], returns=returns["returns"],
                alerts=alerts["alerts"], periods=request.app.state.campaign.periods)


def _form(request: Request, who, values: dict, issues: dict | None = None, status: int = 200, title: str = "填报活动报告"):
    return page(request, "report_form.html", status, who=who, values=values, issues=issues or {}, heading=title)


@router.get("/unit/reports/new")
async def new_report(request: Request, who: Unit):
    return _form(request, who, {"version": "1"})


async def _submit(request: Request, who, report: dict, values: dict, heading: str):
    try:
        answer = await request.app.state.backends.call(
            "POST", "submission", "/v1/reports", who.token, json={"reports": [report]}
        )
    except BackendError as exc:
        if exc.status in (400, 413, 422):
            return _form(request, who, values, views.issue_by_field(exc.issues), 422, heading)
        raise
    return RedirectResponse(f"/unit/submissions/{answer.json()['submission_id']}", status_code=303)


@router.post("/unit/reports")
async def submit_report(request: Request, who: Unit):
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return await _submit(request, who, views.report_from_form(values), values, "填报活动报告")


@router.get("/unit/reports/{report_id}")
async def my_report(request: Request, who: Unit, report_id: str):
    found = await request.app.state.backends.get("submission", f"/v1/reports/{report_id}", who.token)
    return page(request, "report.html", who=who, report=found, versions=list(reversed(found["versions"])))


async def _latest(request: Request, who, report_id: str) -> dict:
    found = await request.app.state.backends.get("submission", f"/v1/reports/{report_id}", who.token)
    return found["versions"][-1]


@router.get("/unit/reports/{report_id}/edit")
async def correct_form(request: Request, who: Unit, report_id: str):
    latest = await _latest(request, who, report_id)
    return _form(request, who, views.form_from_report(latest, latest["version"] + 1), title="更正活动报告")


@router.post("/unit/reports/{report_id}/withdraw")
async def withdraw(request: Request, who: Unit, report_id: str):
    latest = await _latest(request, who, report_id)
    values = views.form_from_report(latest, latest["version"] + 1)
    report = {**views.report_from_form(values), "withdrawn": True}
    return await _submit(request, who, report, values, "撤回活动报告")


@router.get("/unit/submissions/{submission_id}")
async def submission(request: Request, who: Unit, submission_id: str):
    found = await request.app.state.backends.get("submission", f"/v1/submissions/{submission_id}", who.token)
    return page(request, "submission.html", who=who, submission=found)


@router.post("/unit/returns")
async def file_return(request: Request, who: Unit, period_id: Annotated[str, Form()], note: Annotated[str, Form(max_length=2000)] = ""):
    await request.app.state.backends.call("POST", "submission", "/v1/returns", who.token, json={"period_id": period_id, "note": note})
    return RedirectResponse("/unit", status_code=303)


@router.get("/unit/import")
async def import_form(request: Request, who: Unit):
    return page(request, "import.html", who=who, result=None)


@router.get("/unit/template.xlsx")
async def template(request: Request, who: Unit):
    answer = await request.app.state.backends.call("GET", "submission", "/v1/reports/template.xlsx", who.token)
    return Response(answer.content, media_type=answer.headers["content-type"],
                    headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")})


@router.post("/unit/import")
async def upload(request: Request, who: Unit, file: Annotated[UploadFile, File()]):
    content = await file.read()
    files = {"file": (file.filename or "upload.xlsx", content, file.content_type or "application/octet-stream")}
    answer = await request.app.state.backends.call(
        "POST", "submission", "/v1/reports/import", who.token, ok=(202, 422), files=files
    )
    return page(request, "import.html", answer.status_code if answer.status_code != 202 else 200, who=who, result=answer.json())
