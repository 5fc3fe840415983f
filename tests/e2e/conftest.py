"""Browser fixtures for the end-to-end tests: Debian's Chromium driven by Playwright, never a download."""
from __future__ import annotations

import shutil
from typing import Callable

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def chromium() -> Callable[[], Browser]:
    """Launches headless Debian Chromium (`make browser` installs it) when called.

    A factory, because Playwright's sync API keeps an event loop running in this thread: the test
    must finish its own asyncio.run calls (issuing tokens, for one) before the browser starts.
    """
    path = shutil.which("chromium") or "/usr/bin/chromium"
    started: list = []

    def launch() -> Browser:
        playwright = sync_playwright().start()
        started.append(playwright)
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        started.append(browser)
        return browser

    yield launch
    for thing in reversed(started):
        thing.close() if isinstance(thing, Browser) else thing.stop()
