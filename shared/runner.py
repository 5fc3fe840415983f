"""Start one service process: logging, then uvicorn serving the service's FastAPI app."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from shared.heap import start_trimming
from shared.settings import CommonSettings


def serve(app, settings: CommonSettings, port: int) -> None:
    start_trimming()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    uvicorn.run(app, host=settings.host, port=port, log_level=settings.log_level, access_log=False)


async def stop_tasks(tasks: list[asyncio.Task]) -> None:
    """Cancel a service's background tasks and wait until each has finished."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        # What a task raises while being stopped is not news any more: it was logged when it happened.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
