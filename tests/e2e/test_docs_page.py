"""/docs renders in Chromium from the vendored Swagger UI under its CSP: no request leaves the
origin (it once loaded from a CDN, which fails offline) and the policy blocks nothing it needs."""
from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import uvicorn

from deploy.embedded import free_port
from services.submission.routes import router
from shared.runner import server_config
from shared.web import create_api


@asynccontextmanager
async def _nothing(app):
    yield


def test_docs_render_offline_under_their_csp(chromium):
    app = create_api("submission", lifespan=_nothing, readiness={})
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, "warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        page = chromium().new_page()
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Quality Month Live" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector('.opblock-summary-path[data-path="/v1/reports"]', timeout=10_000)
        foreign = [u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).port != port]
        assert foreign == [] and problems == [], (foreign, problems)
    finally:
        server.should_exit = True
        thread.join(10)
