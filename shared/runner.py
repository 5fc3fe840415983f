"""Start one service process: logging, then uvicorn serving the service's FastAPI app."""
from __future__ import annotations

import asyncio
import io
import logging
from typing import Awaitable

import uvicorn

from shared.heap import start_trimming, tune_collector
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


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
    tune_collector()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    uvicorn.Server(server_config(app, settings.host, port, settings.log_level)).run()


async def stop_tasks(tasks: list[asyncio.Task], timeout_s: float = 10.0) -> None:
    """Cancel a service's background tasks and wait for them, but not for ever: a task that does not
    stop is logged with where it hangs, and shutdown goes on (an orchestrator would kill us anyway)."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in done:
        # What a task raised while being stopped is not news any more: it was logged when it happened.
        if not task.cancelled():
            task.exception()
    for task in pending:
        where = io.StringIO()
        task.print_stack(file=where)
        log.error("task %s did not stop within %.0f s:\n%s", task.get_name(), timeout_s, where.getvalue())


async def bounded(step: Awaitable, what: str, timeout_s: float = 10.0) -> bool:
    """Await one shutdown step for at most `timeout_s`; False (logged) if it had to be abandoned."""
    try:
        await asyncio.wait_for(step, timeout_s)
        return True
    except (asyncio.TimeoutError, TimeoutError):
        log.error("%s did not finish within %.0f s; going on", what, timeout_s)
        return False
