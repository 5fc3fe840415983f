"""The OpenAPI document every service publishes, made true to what it answers: the `{"issues"}` error
shape for every status it sends, resolvable references, real media types; and `/docs` from vendored
Swagger UI assets under a Content-Security-Policy (no CDN: the office network may be offline)."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

ISSUE = {
    "type": "object",
    "required": ["code", "message_zh", "message_en"],
    "properties": {
        "code": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "message_zh": {"type": "string"},
        "message_en": {"type": "string"},
        "severity": {"type": "string", "enum": ["error", "warning"]},
    },
}
ISSUES = {
    "type": "object",
    "required": ["issues"],
    "properties": {"issues": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}}},
}
READINESS = {
    "type": "object",
    "required": ["ready", "checks"],
    "properties": {"ready": {"type": "boolean"}, "checks": {"type": "object", "additionalProperties": {"type": "boolean"}}},
}
_WHY = {
    400: "Malformed request (e.g. body not JSON, bad Idempotency-Key)",
    401: "Missing, unknown or revoked token",
    403: "The token may not do this",
    404: "No such resource (or not visible to this token)",
    409: "Conflicts with an earlier request",
    413: "Body too large",
    415: "Content-Type is not application/json",
    422: "Invalid parameters or body",
    429: "Rate limited; see Retry-After",
    431: "Too many request headers",
    503: "Database or broker unavailable; retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


def errors(*statuses: int) -> dict[int, dict]:
    """`responses=` for a route: each status with the contract's `{"issues": [...]}` body."""
    return {status: _error(status) for status in statuses}


def _error(status: int) -> dict:
    answer: dict = {
        "description": _WHY.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Issues"}}},
    }
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    return answer


def json_body(model: type[BaseModel]) -> dict:
    """`openapi_extra=` documenting a body the route reads by hand (its size limit, its error shape);
    nested models go to components (see `document`), so every `$ref` resolves."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def document(app: FastAPI) -> dict:
    """The app's OpenAPI, post-processed once: what FastAPI cannot know about our answers."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(Issue=ISSUE, Issues=ISSUES)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                components.update(media.get("schema", {}).pop("$defs", {}))
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error(422)
            if operation.get("security"):
                # Authenticated: the token is looked up in the database; a viewer token may only read some.
                for status in (401, 403, 503):
                    responses.setdefault(str(status), _error(status))
            responses.setdefault("431", _error(431))
            if path == "/metrics":
                responses["200"] = {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}}
            if path == "/readyz":
                ready = {"content": {"application/json": {"schema": READINESS}}}
                responses["200"] = {"description": "Ready", **ready}
                responses["503"] = {"description": "Not ready: a check failed (database, broker, stream)", **ready}
    app.openapi_schema = schema
    return schema


DOCS_HEADERS = {
    # Swagger UI sets style attributes, hence 'unsafe-inline' for styles only; scripts are ours or vendored.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="/docs/static/favicon.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
# An inline script would need 'unsafe-inline'; the start-up call is served as a file instead.
_INIT = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});\n'


def swagger_assets() -> Path:
    """Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI writes), vendored by the pinned
    `fastapi-offline` wheel; only its static files are used."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def mount_docs(app: FastAPI) -> None:
    """`/docs` served from the vendored Swagger UI, with its own CSP (FastAPI's default uses a CDN)."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE.format(title=title), headers=DOCS_HEADERS)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript", headers=DOCS_HEADERS)

    app.mount("/docs/static", StaticFiles(directory=swagger_assets()), name="docs-static")
