"""HTTP routes of the submission service (integration.md: reports, returns, submission status)."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.submission import store
from shared.events import ActivityReport, ReportSubmitted, ReturnFiled, new_id
from shared.refdata import metrics
from shared.auth import Principal
from shared.web import ApiError, issue, principal

router = APIRouter()


class ReportsRequest(BaseModel):
    reports: Annotated[list[ActivityReport], Field(min_length=1, max_length=500)]


class ReturnRequest(BaseModel):
    period_id: str
    note: Annotated[str, Field(max_length=2000)] = ""


def _unknown_metrics(reports: list[ActivityReport]) -> list[dict]:
    known = metrics()
    return [
        issue("unknown_metric", f"Unknown metric '{m}'; see metrics.csv for the list.", f"未知指标“{m}”，请查阅指标清单。", f"reports.{i}.metrics.{m}")
        for i, r in enumerate(reports)
        for m in r.metrics
        if m not in known
    ]


@router.post("/v1/reports", status_code=202)
async def submit_reports(body: ReportsRequest, request: Request, who: Annotated[Principal, Depends(principal)]):
    if (problems := _unknown_metrics(body.reports)):
        raise ApiError(422, *problems)
    state = request.app.state
    submission_id = new_id()
    received_at, campaign_time = time.time(), state.clock.now()
    events = [
        ReportSubmitted(
            received_at=received_at, campaign_time=campaign_time, submission_id=submission_id, unit_id=who.unit_id, report=r
        )
        for r in body.reports
    ]
    async with state.pool.acquire() as conn:
        await store.save_reports(conn, submission_id, who.unit_id, events)
    state.relay.notify()
    return {"submission_id": submission_id, "status_url": f"/v1/submissions/{submission_id}"}


@router.post("/v1/returns", status_code=202)
async def file_return(body: ReturnRequest, request: Request, who: Annotated[Principal, Depends(principal)]):
    state = request.app.state
    if state.campaign.period(body.period_id) is None:
        ids = ", ".join(p.period_id for p in state.campaign.periods)
        raise ApiError(422, issue("unknown_period", f"Unknown period; use one of {ids}.", f"未知报表期次，可选：{ids}。", "period_id"))
    submission_id = new_id()
    event = ReturnFiled(
        received_at=time.time(), campaign_time=state.clock.now(), unit_id=who.unit_id, period_id=body.period_id, note=body.note
    )
    async with state.pool.acquire() as conn:
        await store.save_return(conn, submission_id, event)
    state.relay.notify()
    return {"submission_id": submission_id, "status_url": f"/v1/submissions/{submission_id}"}


@router.get("/v1/submissions/{submission_id}")
async def submission_status(submission_id: str, request: Request, who: Annotated[Principal, Depends(principal)]):
    found = await store.load_submission(request.app.state.pool, submission_id)
    if found is None or (who.role == "unit" and found["unit_id"] != who.unit_id):
        raise ApiError(404, issue("not_found", "No such submission.", "未找到该提交记录。"))
    return {"submission_id": found["submission_id"], "reports": found["reports"]}
