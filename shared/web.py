"""The HTTP face every service shares: health, readiness, Prometheus metrics and error shape."""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.auth import VIEWER_READS, Principal, TokenCache

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool] | bool]


def issue(code: str, message_en: str, message_zh: str, field: str | None = None) -> dict:
    return {"code": code, "field": field, "message_zh": message_zh, "message_en": message_en}


class ApiError(Exception):
    """An error answered with the contract's `{"issues": [...]}` shape."""

    def __init__(self, status: int, *issues: dict, headers: dict[str, str] | None = None):
        self.status = status
        self.issues = list(issues)
        self.headers = headers


_STATUS_TEXT = {
    400: ("bad_request", "The request is malformed.", "请求格式有误。"),
    401: ("unauthorized", "A valid API token is required.", "需要有效的 API 令牌。"),
    403: ("forbidden", "This token may not do that.", "该令牌无权执行此操作。"),
    404: ("not_found", "No such resource.", "资源不存在。"),
    405: ("method_not_allowed", "Method not allowed here.", "不支持该请求方法。"),
    409: ("conflict", "Conflicts with an earlier request.", "与先前的请求冲突。"),
    413: ("too_large", "The request body is too large.", "请求体过大。"),
    429: ("rate_limited", "Too many requests; slow down.", "请求过于频繁，请稍后再试。"),
}


def _field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or None


def validation_issues(errors: list[dict]) -> list[dict]:
    out = []
    for err in errors:
        field = _field(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        out.append(issue("schema", f"{field or 'body'}: {msg}", f"字段 {field or '请求体'} 不符合要求：{msg}", field))
    return out


async def principal(request: Request, authorization: str | None = Header(None), token: str | None = None) -> Principal:
    """FastAPI dependency: the caller, from `Authorization: Bearer` or (for EventSource) `?token=`."""
    scheme, _, bearer = (authorization or "").partition(" ")
    presented = bearer.strip() if scheme.lower() == "bearer" else token
    if not presented:
        raise ApiError(401, issue("unauthorized", "Send Authorization: Bearer <token>.", "请在 Authorization 头中提供 Bearer 令牌。"))
    state = request.app.state
    tokens = getattr(state, "token_cache", None)
    if tokens is None:  # one per app: apps in one process may use different databases
        tokens = state.token_cache = TokenCache()
    found = await tokens.authenticate(state.pool, presented)
    if found is None:
        raise ApiError(401, issue("unauthorized", "Unknown or revoked token.", "令牌无效或已被吊销。"))
    if found.role == "viewer" and (request.method, request.url.path) not in VIEWER_READS:
        raise ApiError(403, issue(
            "forbidden.role", "A viewer token reads the totals, the stream and the screen only.",
            "只读（大屏）令牌仅可查看汇总数据、实时数据流和大屏。",
        ))
    return found


def create_api(service: str, *, lifespan, readiness: dict[str, ReadinessCheck], version: str = "1") -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics and errors in the contract shape."""
    app = FastAPI(title=f"Quality Month Live: {service}", version=version, lifespan=lifespan)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JSONResponse({"issues": exc.issues}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        return JSONResponse({"issues": validation_issues(list(exc.errors()))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code, en, zh = _STATUS_TEXT.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return JSONResponse({"issues": [issue(code, en, zh)]}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"issues": [issue("internal", "Internal error; it has been logged.", "服务器内部错误，已记录。")]},
            status_code=500,
        )

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"])
    async def readyz():
        results = {}
        for name, check in readiness.items():
            try:
                result = check()
                results[name] = bool(await result) if hasattr(result, "__await__") else bool(result)
            except Exception:  # a failing check means not ready, never a 500
                results[name] = False
        ready = all(results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
