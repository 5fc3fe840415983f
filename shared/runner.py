"""Start one service process: logging, then uvicorn serving the service's FastAPI app."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from shared.heap import start_trimming
from shared.settings import CommonSettings


# The request line and headers together: 64 KiB is four times what a browser with cookies sends;
# beyond it h11 answers 400 before any header reaches the app (httptools, uvicorn's other parser,
# has no such limit: an 8 MiB header was accepted). The header count is capped in shared.web.
MAX_HEADER_BYTES = 64 * 1024


def server_config(app, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """How every service's HTTP server runs (tests use it too, so they test these limits)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False,
        http="h11", h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


def serve(app, settings: CommonSettings, port: int) -> None:
    start_trimming()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    uvicorn.Server(server_config(app, settings.host, port, settings.log_level)).run()


async def stop_tasks(tasks: list[asyncio.Task]) -> None:
    """Cancel a service's background tasks and wait until each has finished."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        # What a task raises while being stopped is not news any more: it was logged when it happened.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
