"""The HTTP face every service shares: health, readiness, Prometheus metrics and error shape."""
from __future__ import annotations

import logging
from typing import Annotated, Awaitable, Callable

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import db, kafka
from shared.auth import VIEWER_READS, Principal, TokenCache
from shared.openapi import mount_docs

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
    415: ("unsupported_media_type", "Send the body as application/json.", "请求体须为 application/json。"),
    429: ("rate_limited", "Too many requests; slow down.", "请求过于频繁，请稍后再试。"),
    431: ("headers.too_large", "Too many or too large request headers.", "请求头过多或过大。"),
}
MAX_HEADERS = 100  # a browser sends about 20; the byte size of headers is capped by the HTTP server (runner.py)
RETRY_AFTER_S = 5  # a database restart takes seconds


def _field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or None


# Chinese wording of our own coded error types (shared.events, services' request models).
_ZH_BY_CODE = {
    "text.nul": "不能包含空字符（U+0000）",
    "number.type": "须为 JSON 数字（不能是字符串、布尔值等）",
    "number.out_of_range": "超出允许范围",
}


def validation_issues(errors: list[dict]) -> list[dict]:
    out = []
    for err in errors:
        field = _field(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        # Our own error types (PydanticCustomError) are dotted issue codes, e.g. `text.nul`;
        # pydantic's built-in types never contain a dot.
        kind = str(err.get("type", ""))
        code = kind if "." in kind else "schema"
        zh = _ZH_BY_CODE.get(code, msg)
        out.append(issue(code, f"{field or 'body'}: {msg}", f"字段 {field or '请求体'} 不符合要求：{zh}", field))
    return out


_BEARER = HTTPBearer(auto_error=False, description="The unit's, district's or office's API token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


async def _principal(request: Request, presented: str | None) -> Principal:
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


async def principal(request: Request, credentials: Credentials) -> Principal:
    """FastAPI dependency: the caller, from `Authorization: Bearer` only. A token in a URL ends up in
    logs, history and Referer headers, so only the stream accepts one (`principal_or_query_token`)."""
    return await _principal(request, credentials.credentials if credentials else None)


async def principal_or_query_token(
    request: Request,
    credentials: Credentials,
    token: Annotated[str | None, Query(description="The API token, for EventSource, which cannot send headers")] = None,
) -> Principal:
    """The caller of a read-only stream: `Authorization: Bearer`, or `?token=` (contract: stream and screen)."""
    return await _principal(request, credentials.credentials if credentials else token)


class HeaderCountLimit:
    """Refuses a request with more than MAX_HEADERS headers (431) before any route parses them."""

    def __init__(self, app, limit: int = MAX_HEADERS):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and len(scope.get("headers", ())) > self.limit:
            code, en, zh = _STATUS_TEXT[431]
            return await JSONResponse({"issues": [issue(code, f"{en} At most {self.limit} headers.", zh)]}, status_code=431)(scope, receive, send)
        return await self.app(scope, receive, send)


def create_api(
    service: str, *, lifespan, readiness: dict[str, ReadinessCheck], bootstrap_servers: str | None = None,
    version: str = "1", refused: Counter | None = None,
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics, /docs and errors in the contract shape.
    With `bootstrap_servers`, /readyz also checks the database (`app.state.pool`) and the broker: a
    service cut off from either can only answer 503 or let work pile up. `refused` (labels status,
    code) counts every refusal, so a flood of bad input shows on a dashboard."""
    if bootstrap_servers is not None:
        readiness = {
            "database": lambda: db.reachable(app.state.pool),
            "broker": lambda: kafka.broker_reachable(bootstrap_servers),
            **readiness,
        }
    app = FastAPI(title=f"Quality Month Live: {service}", version=version, lifespan=lifespan, docs_url=None, redoc_url=None)
    mount_docs(app)
    app.add_middleware(HeaderCountLimit)

    def answer(status: int, issues: list[dict], headers: dict[str, str] | None = None) -> JSONResponse:
        if refused is not None:
            refused.labels(str(status), issues[0]["code"] if issues else "none").inc()
        return JSONResponse({"issues": issues}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return answer(exc.status, exc.issues, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        return answer(422, validation_issues(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code, en, zh = _STATUS_TEXT.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return answer(exc.status_code, [issue(code, en, zh)])

    async def _unavailable(request: Request, exc: Exception):
        # A database that is down or restarting is the server's trouble, not the client's: 503, retry.
        log.warning("%s %s: database unavailable (%r)", request.method, request.url.path, exc)
        return answer(
            503,
            [issue("unavailable", "The database is unavailable; retry after the Retry-After seconds.", "数据库暂不可用，请按 Retry-After 秒数后重试。")],
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    for kind in db.UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)

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
        return JSONResponse({"ready": ready, "service": service, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
