"""HTTP routes for units without a system: the spreadsheet template and the spreadsheet upload."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from services.submission import intake, metrics, spreadsheet, store
from services.submission.routes import _may_submit, limited
from services.submission.wire import submitted_batch
from shared.auth import Principal
from shared.events import new_id
from shared.openapi import errors
from shared.web import ApiError, issue

router = APIRouter()
MAX_FILE_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/v1/reports/template.xlsx", responses={200: {"description": "The template", "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def report_template() -> Response:
    """No token needed: the template holds no data, only the column names and their meaning."""
    return Response(
        spreadsheet.template(), media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="qm-reports-template.xlsx"'},
    )


@router.post("/v1/reports/import", status_code=202, responses=errors(400, 401, 403, 413, 422, 429, 503))
async def import_reports(request: Request, who: Annotated[Principal, Depends(limited)], file: Annotated[UploadFile, File()]):
    """One result per row; the good rows are submitted as one submission, the bad ones named with their
    issues. The same file again replays the first answer (Idempotency-Key derived from its bytes)."""
    _may_submit(who)
    content = await file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise ApiError(413, issue("body.too_large", f"The file exceeds {MAX_FILE_BYTES} bytes.", f"文件超过 {MAX_FILE_BYTES} 字节。", "file"))
    digest = spreadsheet.upload_hash(content)
    try:
        rows = spreadsheet.parse(spreadsheet.read_table(file.filename or "", content), digest)
    except spreadsheet.BadFile as exc:
        raise ApiError(422, issue("file.unreadable", f"{exc}.", f"无法读取该文件：{exc}。请使用模板（xlsx 或 UTF-8 CSV）。", "file")) from None
    good = [r for r in rows if r.report is not None]
    for problem in intake.report_problems([r.report for r in good]):  # type: ignore[misc]
        index = int(problem.field.split(".")[1]) if problem.field else 0  # type: ignore[union-attr]
        good[index].issues.append({"code": problem.code, "field": problem.field.split(".")[-1] if problem.field else None,
                                   "severity": "error", "message_zh": problem.message_zh, "message_en": problem.message_en})
    good = [r for r in good if not r.issues]
    for r in rows:
        if r.issues:
            r.report = None
    state = request.app.state
    submission_id = new_id() if good else None
    answer = {
        "submission_id": submission_id,
        "status_url": f"/v1/submissions/{submission_id}" if submission_id else None,
        "accepted": len(good), "rejected": len(rows) - len(good),
        "rows": [{"row": r.row, "report_id": r.report_id, "status": "accepted" if r.report else "rejected", "issues": r.issues} for r in rows],
    }
    if not good:
        problem = issue("import.no_valid_rows", "No row of the file can be submitted; see each row's issues.", "文件中没有可提交的行，请查看各行的问题。", "file")
        return JSONResponse({**answer, "issues": [problem]}, status_code=422)
    batch = submitted_batch(
        [r.report for r in good], submission_id=submission_id, unit_id=who.unit_id,  # type: ignore[misc]
        received_at=time.time(), campaign_time=state.clock.now(),
    )
    claim = store.Claim(f"import:{digest[:48]}", digest)
    result = await store.save_reports(state.pool, submission_id, who.unit_id, batch, answer, claim)  # type: ignore[arg-type]
    if isinstance(result, store.Earlier):
        return JSONResponse(result.answer, status_code=202, headers={"Idempotent-Replayed": "true"})
    metrics.REPORTS_ACCEPTED.inc(result.published + result.stale)
    state.relay.notify()
    return JSONResponse(answer, status_code=202)
