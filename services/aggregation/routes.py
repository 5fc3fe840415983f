"""HTTP routes of the aggregation service: totals and their breakdowns, the live stream, the circular."""
from __future__ import annotations

import asyncio
import re
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from services.aggregation import circular, export, snapshots
from services.aggregation.totals import unscale
from services.aggregation.visibility import View
from shared.auth import Principal
from shared.openapi import errors
from shared.refdata import metrics
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


OFFICE_ONLY = {**AUTH_RESPONSES, **errors(403, 422)}
NOT_FOUND = errors(404)
Format = Literal["json", "md", "docx"]
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{32}")  # snapshots.take: uuid4().hex
# `?format=` chooses the media type of the answer: declared, so clients and fuzzers expect each.
CIRCULAR = {200: {"description": "The circular: JSON, or a file with `format=md|docx`", "content": {
    "application/json": {"schema": {"type": "object"}},
    "text/markdown": {"schema": {"type": "string"}},
    export.DOCX_TYPE: {"schema": {"type": "string", "format": "binary"}},
}}}


def _office(caller: Principal) -> None:
    if caller.role != "office":
        raise ApiError(403, issue("forbidden.role", "Only office tokens may draft the circular.", "仅市质量办令牌可生成通报草稿。"))


async def _answer(circular_doc: dict, fmt: Format, name: str) -> Response | dict:
    """The circular as JSON, or as a file to download (Markdown, Word)."""
    if fmt == "json":
        return circular_doc
    if fmt == "md":
        body, media_type = export.to_markdown(circular_doc).encode(), "text/markdown; charset=utf-8"
    else:
        body, media_type = await asyncio.to_thread(export.to_docx, circular_doc), export.DOCX_TYPE
    filename = quote(f"{circular_doc['title']}-{name}.{fmt}")
    return Response(body, media_type=media_type, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})


@router.get("/v1/report/circular", responses={**CIRCULAR, **OFFICE_ONLY})
async def circular_draft(request: Request, format: Format = "json", caller: Principal = Depends(principal)):
    """The draft circular (通报) from the current reports, in the 2022 structure; `format=md|docx` downloads it."""
    _office(caller)
    pool, year = request.app.state.pool, request.app.state.campaign.year
    entries = await snapshots.current_entries(pool, year)
    previous = await snapshots.campaign_totals(pool, year - 1)
    drafted = await asyncio.to_thread(circular.draft, year, entries, previous)
    drafted.update(snapshot=None, **request.app.state.totals.freshness())
    return await _answer(drafted, format, "draft")


@router.post("/v1/report/circular/snapshots", status_code=201, responses=OFFICE_ONLY)
async def take_snapshot(request: Request, caller: Principal = Depends(principal)):
    """Pin the current reports: the circular as signed, unchanged by later corrections."""
    _office(caller)
    taken = await snapshots.take(request.app.state.pool, request.app.state.campaign.year, caller.unit_id)
    return taken.summary()


@router.get("/v1/report/circular/snapshots", responses=OFFICE_ONLY)
async def list_snapshots(request: Request, caller: Principal = Depends(principal)):
    """The campaign's snapshots, newest first."""
    _office(caller)
    found = await snapshots.listing(request.app.state.pool, request.app.state.campaign.year)
    return {"snapshots": [s.summary() for s in found]}


async def _pinned(request: Request, snapshot_id: str) -> snapshots.Snapshot:
    # Not an id we could have issued (wrong form, NUL, megabytes): not found, without a query.
    found = None
    if _SNAPSHOT_ID.fullmatch(snapshot_id):
        found = await snapshots.find(request.app.state.pool, request.app.state.campaign.year, snapshot_id)
    if found is None:
        raise ApiError(404, issue("not_found.snapshot", f"No snapshot {snapshot_id!r} in this campaign.", "本次活动没有该通报快照。", "snapshot_id"))
    return found


@router.get("/v1/report/circular/snapshots/{snapshot_id}", responses={**CIRCULAR, **OFFICE_ONLY, **NOT_FOUND})
async def get_snapshot(request: Request, snapshot_id: str, format: Format = "json", caller: Principal = Depends(principal)):
    """The circular drafted from a snapshot's pinned reports: the live draft's shape; `format=md|docx` downloads it."""
    _office(caller)
    pinned = await _pinned(request, snapshot_id)
    entries = await snapshots.pinned_entries(request.app.state.pool, snapshot_id)
    drafted = await asyncio.to_thread(circular.draft, pinned.campaign, entries, pinned.previous_totals)
    drafted.update(snapshot=pinned.summary(), as_of=pinned.summary()["as_of"], lag_s=None)
    return await _answer(drafted, format, snapshot_id[:8])


@router.get("/v1/report/circular/snapshots/{snapshot_id}/figures/{metric_id}", responses={**OFFICE_ONLY, **NOT_FOUND})
async def trace_figure(request: Request, snapshot_id: str, metric_id: str, caller: Principal = Depends(principal)):
    """One figure of a snapshot and the pinned reports it sums (their values add up to it exactly)."""
    _office(caller)
    await _pinned(request, snapshot_id)
    if metric_id not in metrics():
        raise ApiError(404, issue("not_found.metric", f"No metric {metric_id!r} (see metrics.csv).", "没有该统计指标。", "metric_id"))
    entries = await snapshots.pinned_entries(request.app.state.pool, snapshot_id)
    reports = [e for e in entries if e.metrics.get(metric_id)]
    total = sum(e.metrics[metric_id] for e in reports)
    return {
        "metric_id": metric_id,
        "value": unscale(metric_id, total),
        "phrase": circular.phrase(metric_id, unscale(metric_id, total)),
        "reports": [
            {"unit_id": e.unit_id, "report_id": e.report_id, "version": e.version,
             "value": unscale(metric_id, e.metrics[metric_id])}
            for e in reports
        ],
    }
