"""The HTTP server every service runs (shared.runner.server_config) refuses oversized and countless
headers before the app sees them (issue 16, finding 6: an 8 MiB header and 20,000 headers were
accepted); and /docs is served from vendored Swagger UI under a CSP, with no CDN."""
from __future__ import annotations

import asyncio
import re
from contextlib import asynccontextmanager

import httpx
import uvicorn

from deploy.embedded import free_port
from shared.runner import server_config
from shared.web import create_api


@asynccontextmanager
async def _nothing(app):
    yield


@asynccontextmanager
async def serving():
    app = create_api("probe", lifespan=_nothing, readiness={})
    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, "warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _raw(port: int, head: bytes) -> str:
    """The status line the server answers to `head`, or 'reset' if it hung up on us first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(0, len(head), 1 << 16):
            writer.write(head[i : i + (1 << 16)])
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
        return line.decode("latin-1").strip() or "reset"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    finally:
        writer.close()


def _status(line: str) -> int | None:
    found = re.match(r"HTTP/1\.1 (\d{3})", line)
    return int(found.group(1)) if found else None


async def test_oversized_and_countless_headers_are_refused():
    async with serving() as port:
        ok = await _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(ok) == 200
        huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n"
        many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(20_000)) + b"\r\n"
        for head in (huge, many):
            answer = await _raw(port, head)
            assert answer == "reset" or _status(answer) in (400, 431), answer[:80]
        # Under the byte limit but more headers than any client needs: the app refuses them itself.
        some = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
        assert _status(await _raw(port, some)) == 431


async def test_docs_are_vendored_and_locked_down():
    async with serving() as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "cdn" not in page.text.lower() and "<script>" not in page.text  # no inline script, no CDN
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert src.startswith("/docs/"), src
            assert (await client.get(src)).status_code == 200, src
        schema = (await client.get("/openapi.json")).json()
        assert schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
