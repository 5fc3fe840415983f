"""Sign-in and sign-out, the home page, file exports (proxied: no token in a link) and GET /v1/audit."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.console import session
from services.console.session import Desk, Signed
from shared import audit, export
from shared.auth import authenticate
from shared.events import StoredText
from shared.web import ApiError, issue, principal

router = APIRouter()
FileFormat = Literal["csv", "xlsx"]
# What the exports page offers: console name -> (service, path).
EXPORTS = {
    "totals": ("aggregation", "/v1/totals"),
    "returns": ("notification", "/v1/returns/status"),
    "alerts": ("notification", "/v1/alerts"),
    "reports": ("submission", "/v1/reports"),
}


def page(request: Request, name: str, status: int = 200, **context):
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def download(answer) -> Response:
    """A service's file answer passed on as it came: its content, type and file name."""
    keep = ("content-type", "content-disposition")
    return Response(answer.content, headers={k: v for k, v in answer.headers.items() if k in keep})


@router.get("/", include_in_schema=False)
async def home(request: Request, signed: Signed):
    if signed.role in session.DESK_ROLES:
        return RedirectResponse("/overview", status_code=303)
    if signed.role == "unit":
        return RedirectResponse("/unit", status_code=303)
    return page(request, "error.html", 403, message="您的令牌（只读大屏角色）不能使用控制台。")


@router.get("/signin", include_in_schema=False)
async def signin_form(request: Request):
    return page(request, "signin.html")


@router.post("/signin", include_in_schema=False)
async def signin(request: Request, token: Annotated[str, Form(max_length=512)] = ""):
    found = await authenticate(request.app.state.pool, token.strip()) if token.strip() else None
    if found is None:
        return page(request, "signin.html", 401, error="令牌无效或已被吊销，请检查后重试。")
    answer = RedirectResponse("/", status_code=303)
    session.set_cookie(answer, token.strip(), request.app.state.settings.cookie_secure)
    return answer


@router.post("/signout", include_in_schema=False)
async def signout():
    answer = RedirectResponse("/signin", status_code=303)
    session.clear_cookie(answer)
    return answer


@router.get("/export/{name}", include_in_schema=False)
async def export_file(request: Request, signed: Desk, name: str, format: FileFormat = "csv"):
    """A file from a service, fetched with the session's token: links never carry a token."""
    if name == "audit":
        if signed.role != "office":
            raise session.NotForRole
        rows = await audit.entries(request.app.state.pool, limit=10000)
        return export.respond(format, "audit", audit.COLUMNS, rows)
    if name not in EXPORTS:
        raise ApiError(404, issue("not_found", "No such export.", "没有该导出。"))
    service, path = EXPORTS[name]
    params = {k: v for k, v in request.query_params.items() if k != "format"}
    return download(await request.app.state.backends.call("GET", service, path, signed.token, params={**params, "format": format}))


@router.get("/v1/audit")
async def get_audit(
    request: Request, who=Depends(principal), action: Annotated[StoredText | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 500, format: export.Format = "json",
):
    """The audit trail, newest first (office tokens only)."""
    if who.role != "office":
        raise ApiError(403, issue("forbidden.role", "Only office tokens may read the audit trail.", "仅市质量办令牌可查看审计日志。"))
    rows = await audit.entries(request.app.state.pool, action, limit)
    if format != "json":
        return export.respond(format, "audit", audit.COLUMNS, rows)
    return {"entries": rows}


