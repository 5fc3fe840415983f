"""HTTP routes of the submission service (integration.md: reports, returns, submission status)."""
from __future__ import annotations

import math
import re
import time
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from services.submission import intake, metrics, store
from services.submission.intake import ReportsRequest, ReturnRequest
from services.submission.wire import submitted_batch
from shared.auth import Principal
from shared.events import ReturnFiled, new_id
from shared.refdata import units
from shared.openapi import errors, json_body
from shared.web import ApiError, issue, principal, validation_issues

router = APIRouter()
M = TypeVar("M", bound=BaseModel)
MAX_ISSUES = 100  # a body with thousands of errors gets the first hundred
_SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")


async def limited(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, if its unit has not used up its request rate (token bucket per unit, shared by replicas)."""
    wait = await request.app.state.limiter.allow(who.unit_id)
    if wait:
        raise ApiError(
            429,
            issue("rate_limited", "Too many requests from this unit; retry after the Retry-After seconds.", "该单位请求过于频繁，请按 Retry-After 秒数后重试。"),
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return who


def _may_submit(who: Principal) -> None:
    if who.role != "unit":
        raise ApiError(403, issue("forbidden.role", f"A {who.role} token can read, not submit; use the unit's own token.", "该令牌只能查询，不能提交；请使用报送单位自己的令牌。"))
    if who.unit_id not in units():
        raise ApiError(403, issue("unit.unknown", f"This token's unit '{who.unit_id}' is not a reporting unit.", f"该令牌所属单位“{who.unit_id}”不是报送单位。"))


def _same_unit(who: Principal, claimed: str | None) -> None:
    if claimed is None:
        return
    if claimed not in units():
        raise ApiError(422, issue("unit.unknown", "Unknown unit_id; see units.csv.", "未知单位编号，请查阅单位清单。", "unit_id"))
    if claimed != who.unit_id:
        raise ApiError(403, issue("forbidden.unit", "A unit can submit only for itself.", "报送单位只能提交本单位的数据。", "unit_id"))


def _claim_key(key: str | None) -> str | None:
    if key is not None and not intake.valid_idempotency_key(key):
        raise ApiError(400, issue("idempotency.key_invalid", "Idempotency-Key must be 1-255 visible ASCII characters.", "Idempotency-Key 须为 1 至 255 个可见 ASCII 字符。", "Idempotency-Key"))
    return key


def _json_only(request: Request) -> None:
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, issue("body.media_type", "Send the body as JSON with Content-Type: application/json.", "请求体须为 JSON，并设置 Content-Type: application/json。", "Content-Type"))


async def _read_body(request: Request) -> bytes:
    limit = request.app.state.settings.max_body_bytes
    too_large = ApiError(413, issue("body.too_large", f"The request body exceeds {limit} bytes; send at most 500 reports per request.", f"请求体超过 {limit} 字节；每次最多提交 500 条报告。"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise ApiError(400, issue("body.malformed", "The body is not valid JSON (UTF-8).", "请求体不是有效的 JSON（UTF-8）。")) from None
        raise ApiError(422, *validation_issues(errors)[:MAX_ISSUES]) from None


def _answer(request: Request, result: store.Earlier | store.Saved, answer: dict, claim: store.Claim | None) -> JSONResponse:
    if isinstance(result, store.Earlier):
        if result.body_hash != claim.body_hash:  # type: ignore[union-attr]
            request.scope.setdefault("state", {})["outcome"] = "conflict"
            raise ApiError(409, issue("idempotency.key_reused", "This Idempotency-Key was used with another body; use a new key for a new request.", "该 Idempotency-Key 已用于内容不同的请求；新请求请使用新的键。", "Idempotency-Key"))
        request.scope.setdefault("state", {})["outcome"] = "replayed"
        return JSONResponse(result.answer, status_code=202, headers={"Idempotent-Replayed": "true"})
    metrics.REPORTS_ACCEPTED.inc(result.published + result.stale)
    metrics.REPORTS_STALE.inc(result.stale)
    request.app.state.relay.notify()
    return JSONResponse(answer, status_code=202)


async def _admit(request: Request, who: Principal, idempotency_key: str | None, model: type[M]) -> tuple[str | None, bytes, M]:
    """What both submitting endpoints check first: role, key, size, shape, unit; then the key, body and model."""
    _may_submit(who)
    key = _claim_key(idempotency_key)
    _json_only(request)
    raw = await _read_body(request)
    body = _parse(model, raw)
    _same_unit(who, body.unit_id)
    return key, raw, body


SUBMIT_ERRORS = errors(400, 401, 403, 409, 413, 415, 422, 429, 503)


@router.post("/v1/reports", status_code=202, openapi_extra=json_body(ReportsRequest), responses=SUBMIT_ERRORS)
async def submit_reports(
    request: Request,
    who: Annotated[Principal, Depends(limited)],
    idempotency_key: Annotated[str | None, Header()] = None,
):
    key, raw, body = await _admit(request, who, idempotency_key, ReportsRequest)
    if problems := intake.report_problems(body.reports):
        raise ApiError(422, *(issue(p.code, p.message_en, p.message_zh, p.field) for p in problems[:MAX_ISSUES]))
    state = request.app.state
    submission_id = new_id()
    answer = {"submission_id": submission_id, "status_url": f"/v1/submissions/{submission_id}"}
    batch = submitted_batch(
        body.reports, submission_id=submission_id, unit_id=who.unit_id, received_at=time.time(), campaign_time=state.clock.now()
    )
    claim = store.Claim(key, intake.body_hash(request.url.path, raw)) if key else None
    result = await store.save_reports(state.pool, submission_id, who.unit_id, batch, answer, claim)
    return _answer(request, result, answer, claim)


@router.post("/v1/returns", status_code=202, openapi_extra=json_body(ReturnRequest), responses=SUBMIT_ERRORS)
async def file_return(
    request: Request,
    who: Annotated[Principal, Depends(limited)],
    idempotency_key: Annotated[str | None, Header()] = None,
):
    key, raw, body = await _admit(request, who, idempotency_key, ReturnRequest)
    state = request.app.state
    if state.campaign.period(body.period_id) is None:
        ids = ", ".join(p.period_id for p in state.campaign.periods)
        raise ApiError(422, issue("unknown_period", f"Unknown period; use one of {ids}.", f"未知报表期次，可选：{ids}。", "period_id"))
    submission_id = new_id()
    answer = {"submission_id": submission_id, "status_url": f"/v1/submissions/{submission_id}"}
    event = ReturnFiled(
        received_at=time.time(), campaign_time=state.clock.now(), unit_id=who.unit_id, period_id=body.period_id, note=body.note
    )
    claim = store.Claim(key, intake.body_hash(request.url.path, raw)) if key else None
    result = await store.save_return(state.pool, submission_id, event, answer, claim)
    return _answer(request, result, answer, claim)


def _may_read(who: Principal, unit_id: str) -> bool:
    if who.role == "office":
        return True
    if who.role == "district":
        unit = units().get(unit_id)
        return unit is not None and unit.district_id == who.unit_id
    return unit_id == who.unit_id


@router.get("/v1/submissions/{submission_id}", responses=errors(401, 404, 429, 503))
async def submission_status(submission_id: str, request: Request, who: Annotated[Principal, Depends(limited)]):
    found = None
    if _SUBMISSION_ID.fullmatch(submission_id):
        found = await store.load_submission(request.app.state.pool, submission_id)
    # Someone else's submission is "not found" too: ids of other units' work are not disclosed.
    if found is None or not _may_read(who, found["unit_id"]):
        raise ApiError(404, issue("not_found", "No such submission.", "未找到该提交记录。"))
    return {"submission_id": found["submission_id"], "unit_id": found["unit_id"], "kind": found["kind"], "reports": found["reports"]}
