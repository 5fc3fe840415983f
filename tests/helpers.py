"""Small helpers for tests: tokens, waiting for a condition, report builders."""
from __future__ import annotations

import asyncio
import time
from typing import Callable, TypeVar

from deploy.cli import _issue

T = TypeVar("T")


def bootstrap_of(broker) -> str:
    """The `broker` fixture's bootstrap servers: an embedded broker's, or the shared one's string."""
    return broker if isinstance(broker, str) else broker.bootstrap


def issue_token(database_url: str, unit_id: str, role: str = "unit") -> str:
    return asyncio.run(_issue(database_url, unit_id, role))


def wait_until(probe: Callable[[], T], timeout: float = 30, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s; last value: {last!r}")


def report(report_id: str, **overrides) -> dict:
    body = {
        "report_id": report_id,
        "version": 1,
        "title": f"质量活动 {report_id}",
        "focus_area": "publicity",
        "started_on": "2022-09-05",
        "metrics": {"activities": 1},
    }
    body.update(overrides)
    return body


async def eventually(probe, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    """Await `probe()` until it returns something truthy: `wait_until` for tests whose service runs
    in the test's own event loop (which a blocking wait would freeze)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s; last value: {last!r}")
