"""Composition root of the console: settings, the database pool (tokens and the audit trail), the
HTTP client to the other services, templates, pages and the JSON audit API."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import Field

from services.console import desk, routes, unit_pages, views
from services.console.backends import BackendError, Backends
from services.console.session import NotForRole, SignInNeeded
from shared import auth, db
from shared.refdata import FOCUS_AREAS, metrics, units
from shared.runner import serve
from shared.settings import DEFAULT_PORTS, CommonSettings, service_config
from shared.web import create_api

SERVICE = "console"
HERE = Path(__file__).parent

# The screen's policy (services/aggregation/screen), except that forms post to this origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ConsoleSettings(CommonSettings):
    model_config = service_config(SERVICE)
    port: int = DEFAULT_PORTS[SERVICE]
    submission_url: str = Field(f"http://127.0.0.1:{DEFAULT_PORTS['submission']}", validation_alias="QM_SUBMISSION_URL")
    aggregation_url: str = Field(f"http://127.0.0.1:{DEFAULT_PORTS['aggregation']}", validation_alias="QM_AGGREGATION_URL")
    notification_url: str = Field(f"http://127.0.0.1:{DEFAULT_PORTS['notification']}", validation_alias="QM_NOTIFICATION_URL")
    cookie_secure: bool = False  # QM_CONSOLE_COOKIE_SECURE=true behind HTTPS
    backend_timeout_s: float = Field(10.0, gt=0)


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html: titles stay text
    found.env.globals.update(
        units=units(), metrics=metrics(), focus_areas=FOCUS_AREAS, status_zh=views.STATUS_ZH,
        state_zh=views.REPORT_STATE_ZH, kind_zh=views.ALERT_KIND_ZH, unit_kind_zh=views.UNIT_KIND_ZH,
    )
    return found


def create_app(settings: ConsoleSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings, state.campaign = settings, settings.campaign()
        state.pool = await db.create_pool(settings.database_url)
        await auth.migrate(state.pool)
        http = httpx.AsyncClient(timeout=settings.backend_timeout_s)
        state.backends = Backends(http, {
            "submission": settings.submission_url, "aggregation": settings.aggregation_url,
            "notification": settings.notification_url,
        })
        try:
            yield
        finally:
            await http.aclose()
            await db.close_pool(state.pool)

    async def database_ready() -> bool:
        return await app.state.pool.fetchval("SELECT true")

    app = create_api(SERVICE, lifespan=lifespan, readiness={"database": database_ready})
    app.state.templates = templates()

    @app.middleware("http")
    async def page_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _: SignInNeeded):
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(NotForRole)
    async def _not_for_role(request: Request, _: NotForRole):
        return app.state.templates.TemplateResponse(request, "error.html", {"message": "您的令牌无权查看此页面。"}, status_code=403)

    @app.exception_handler(BackendError)
    async def _backend(request: Request, exc: BackendError):
        if exc.status == 401:
            return RedirectResponse("/signin", status_code=303)
        message = "；".join(i.get("message_zh") or "" for i in exc.issues)
        return app.state.templates.TemplateResponse(request, "error.html", {"message": message}, status_code=exc.status)

    app.include_router(routes.router)
    app.include_router(desk.router)
    app.include_router(unit_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
    return app


def main() -> None:
    settings = ConsoleSettings()
    serve(create_app(settings), settings, settings.port)
