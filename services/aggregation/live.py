"""The live stream: what a client is sent (snapshot, totals, returns, alert messages, shapes of
docs/integration.md "Live stream") and when: at most one message per interval, coalesced, with
keep-alive comments while idle."""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import AsyncIterator

import orjson

from services.aggregation.completeness import completeness, next_deadline, return_rows
from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.hub import Hub, Subscriber
from services.aggregation.projection import Totals
from services.aggregation.totals import Entry, unscale
from services.aggregation.visibility import View
from shared.clock import CampaignClock
from shared.refdata import Campaign, units

BREAKDOWNS = ("district", "focus_area", "unit", "day")
KINDS = ("totals", "returns", "alert")


def activity(entry: Entry) -> dict:
    unit = units().get(entry.unit_id)
    return {
        "unit_id": entry.unit_id, "unit_name_zh": unit.name_zh if unit else entry.unit_id,
        "report_id": entry.report_id, "version": entry.version, "title": entry.title,
        "focus_area": entry.focus_area, "district_id": entry.district_id, "started_on": entry.day,
        "metrics": {m: unscale(m, v) for m, v in entry.metrics.items()}, "campaign_time": entry.campaign_time,
    }


def frame(event: str, data: dict, event_id: int, retry_ms: int | None = None) -> bytes:
    head = f"retry: {retry_ms}\n" if retry_ms else ""
    return f"{head}id: {event_id}\nevent: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


class Live:
    """Builds each client's messages from the totals, the returns board and the alert feed."""

    def __init__(self, totals: Totals, board: ReturnBoard, feed: AlertFeed, hub: Hub, clock: CampaignClock,
                 campaign: Campaign, interval_s: float = 0.1, keepalive_s: float = 15.0, on_clients=None):
        self.totals, self.board, self.feed, self.hub = totals, board, feed, hub
        self.clock, self.campaign = clock, campaign
        self.interval_s, self.keepalive_s = interval_s, keepalive_s
        self.on_clients = on_clients or (lambda n: None)
        self.ids = itertools.count(int(time.time() * 1000))  # ids keep rising across restarts

    def _pairs(self, view: View):
        return [p for p in self.board.expected if view.sees_unit(p[0])]

    def snapshot(self, view: View) -> dict:
        pairs = self._pairs(view)
        return {
            "totals": self.totals.headline(view.headline_scope),
            "by": {dim: self.totals.by(view.scope, dim) for dim in BREAKDOWNS},
            "latest": [activity(e) for e in self.totals.latest(view.scope)[:20]],
            "returns": return_rows(self.board.board, pairs, self.campaign),
            "completeness": completeness(self.board.board, pairs),
            "alerts": self.feed.visible(view),
            "clock": self.clock.to_dict(),
            "next_deadline": next_deadline(self.campaign, self.clock.now()),
            **self.totals.freshness(),
        }

    def totals_message(self, sub: Subscriber) -> dict:
        by: dict[str, dict] = {}
        for dim, group in sorted(sub.groups):
            if dim in BREAKDOWNS:
                by.setdefault(dim, {})[group] = self.totals.group(sub.view.scope, dim, group)
        message = {
            "totals": self.totals.headline(sub.view.headline_scope),
            "by": by,
            "latest": [activity(e) for e in sub.latest],
            **self.totals.freshness(),
        }
        sub.groups.clear()
        sub.headline = False
        sub.latest.clear()
        return message

    def returns_message(self, sub: Subscriber) -> dict:
        changed = sorted(sub.returns)
        sub.returns.clear()
        return {
            "returns": return_rows(self.board.board, changed, self.campaign),
            "completeness": completeness(self.board.board, self._pairs(sub.view)),
            **self.board.freshness(),
        }

    def _next(self, sub: Subscriber, after: str) -> tuple[str, dict]:
        start = KINDS.index(after) + 1
        for kind in KINDS[start:] + KINDS[:start]:
            if kind == "totals" and sub.totals_pending:
                return kind, self.totals_message(sub)
            if kind == "returns" and sub.returns:
                return kind, self.returns_message(sub)
            if kind == "alert" and sub.alerts:
                return kind, sub.alerts.popleft()
        raise LookupError("nothing pending")

    async def events(self, view: View) -> AsyncIterator[bytes]:
        """The SSE body for one client: a snapshot, then coalesced changes, never more than one per interval."""
        sub = self.hub.subscribe(view)
        self.on_clients(len(self.hub.subscribers))
        try:
            # Subscribing and snapshotting happen with no await between: nothing falls in the gap.
            snapshot = self.snapshot(view)
            sub.clear()
            yield frame("snapshot", snapshot, next(self.ids), retry_ms=2000)
            last_sent, last_kind = time.monotonic(), KINDS[-1]
            while True:
                if not sub.pending:
                    sub.wake.clear()
                    try:
                        await asyncio.wait_for(sub.wake.wait(), self.keepalive_s)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                delay = last_sent + self.interval_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # the rate limit: later changes join this message
                last_kind, data = self._next(sub, last_kind)
                yield frame(last_kind, data, next(self.ids))
                last_sent = time.monotonic()
        finally:
            self.hub.unsubscribe(sub)
            self.on_clients(len(self.hub.subscribers))
