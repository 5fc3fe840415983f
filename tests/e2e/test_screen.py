"""The big screen in headless Chromium against the whole stack: a counter follows an accepted
report, an untrusted title stays text, and the page recovers when the stream's service restarts."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.helpers import issue_token, report

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screen"
HOSTILE = "<img src=x onerror=alert(1)>"
# Campaign clock in week 2, so the first weekly return is already due.
CLOCK = {"QM_CLOCK_START": "2022-09-12T10:00:00+08:00", "QM_CLOCK_SPEED": "1"}


def counter(page, metric: str) -> int:
    return int(page.get_attribute(f'[data-metric="{metric}"]', "data-value"))


def wait_counter(page, metric: str, value: int, timeout_s: float = 20) -> float:
    """Wait until the counter card shows `value`; return the seconds it took."""
    started = time.monotonic()
    page.wait_for_function(
        "([m, v]) => document.querySelector(`[data-metric='${m}']`)?.dataset.value === String(v)",
        arg=[metric, value],
        timeout=timeout_s * 1000,
    )
    return time.monotonic() - started


def shown_digits(page, metric: str) -> str:
    return page.evaluate(
        "m => [...document.querySelectorAll(`[data-metric='${m}'] .flip > *`)]"
        ".map(n => n.classList.contains('digit') ? n.querySelector('.top b').textContent : n.textContent).join('')",
        metric,
    )


def test_screen_counts_live_escapes_titles_and_recovers(make_stack, database_url, chromium):
    stack = make_stack(env=CLOCK)
    office = issue_token(database_url, "office", "office")
    unit = issue_token(database_url, "pudong")
    base = stack.url("aggregation")
    submission = httpx.Client(base_url=stack.url("submission"), headers={"Authorization": f"Bearer {unit}"}, timeout=10)

    def submit(*reports: dict) -> None:
        answer = submission.post("/v1/reports", json={"reports": list(reports)})
        assert answer.status_code == 202, answer.text

    SHOTS.mkdir(parents=True, exist_ok=True)
    page = chromium().new_page(viewport={"width": 1920, "height": 1080})
    requests: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/screen?token={office}")
    page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
    # The token leaves the address (and history) once the page has it; a reload of the tab still works.
    assert "token" not in page.url and office not in page.url
    page.reload()
    page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
    assert counter(page, "activities") == 0
    page.screenshot(path=SHOTS / "01-connected.png")

    # An accepted report moves the counters, the district bar and the feed.
    posted = time.monotonic()
    submit(report("screen-1", title="浦东新区质量开放日", metrics={"activities": 3, "participants": 1200, "enterprises": 40}))
    wait_counter(page, "activities", 3)
    seen_after = time.monotonic() - posted
    assert counter(page, "participants") == 1200
    assert shown_digits(page, "participants") == "1,200"
    page.wait_for_function(  # at rest, every flap of every digit shows the same figure
        "() => [...document.querySelectorAll('.digit')].every(d => [...d.children].every(h => h.textContent === d.children[0].textContent))"
    )
    assert page.get_attribute('#districts [data-key="pudong"]', "data-value") == "3"
    page.wait_for_selector("#feed .what >> text=浦东新区质量开放日")
    # The issue asks for a change within a second of acceptance; this bound only catches gross
    # regressions on a loaded machine (measured here: 0.2 to 0.5 s from the POST, validation included).
    (SHOTS / "latency.txt").write_text(f"counter changed {seen_after:.2f} s after the report was posted\n")
    assert seen_after < 3
    page.screenshot(path=SHOTS / "02-counter-changed.png")

    # A hostile title is shown as text: no element made from it, no dialog, no request for it.
    submit(report("screen-2", title=HOSTILE, focus_area="service", metrics={"activities": 1}))
    wait_counter(page, "activities", 4)
    titles = page.eval_on_selector_all("#feed .what", "nodes => nodes.map(n => n.textContent)")
    assert HOSTILE in titles
    assert page.eval_on_selector_all("#feed img, #feed script", "nodes => nodes.length") == 0
    page.wait_for_timeout(300)  # give a wrongly rendered onerror handler the chance to fire
    assert dialogs == []
    page.screenshot(path=SHOTS / "03-untrusted-title.png")

    # The stream's service goes away: the page says so; it comes back: the page catches up by itself.
    stack.stop_service("aggregation")
    page.wait_for_selector('body[data-connection="lost"]', timeout=15_000)
    assert page.is_visible("#lost-banner")
    assert "连接中断" in page.inner_text("#conn")
    page.screenshot(path=SHOTS / "04-connection-lost.png")
    stack.start_service("aggregation")
    stack.wait_ready(names=["aggregation"])
    page.wait_for_selector('body[data-connection="live"]', timeout=30_000)
    wait_counter(page, "activities", 4)
    submit(report("screen-3", title="恢复后的活动", metrics={"activities": 2}))
    wait_counter(page, "activities", 6)
    page.wait_for_selector("#feed .what >> text=恢复后的活动")
    assert not page.is_visible("#lost-banner")
    page.screenshot(path=SHOTS / "05-recovered.png")

    origin = urlsplit(base).netloc
    foreign = [u for u in requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != origin]
    assert foreign == [], f"the page fetched from outside its origin: {foreign}"
    assert dialogs == [] and errors == []
    submission.close()
