"""Fan-out to live-stream clients: each subscriber accumulates what changed (coalesced, filtered
by what it may see) until it is allowed to send its next message. No framework, only asyncio."""
from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from typing import Iterable

from services.aggregation.completeness import Pair
from services.aggregation.projection import Change
from services.aggregation.totals import CITY
from services.aggregation.visibility import View


class Subscriber:
    """One client's pending changes: sets and a bounded list, so a slow client never builds a backlog."""

    def __init__(self, view: View, max_latest: int = 20, max_alerts: int = 50):
        self.view = view
        self.groups: set[tuple[str, str]] = set()  # (dimension, group) in the view's scope
        self.headline = False
        self.latest: deque = deque(maxlen=max_latest)  # newest first
        self.returns: set[Pair] = set()
        self.alerts: deque[dict] = deque(maxlen=max_alerts)
        self.wake = asyncio.Event()

    def clear(self) -> None:
        self.groups.clear()
        self.headline = False
        self.latest.clear()
        self.returns.clear()
        self.alerts.clear()

    @property
    def totals_pending(self) -> bool:
        return bool(self.groups or self.headline or self.latest)

    @property
    def pending(self) -> bool:
        return self.totals_pending or bool(self.returns or self.alerts)


class Hub:
    """Where the stream's producers (agents) announce changes and its consumers (clients) subscribe."""

    def __init__(self):
        self.subscribers: set[Subscriber] = set()

    def subscribe(self, view: View) -> Subscriber:
        subscriber = Subscriber(view)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def totals_changed(self, change: Change) -> None:
        if not self.subscribers:
            return
        by_scope: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for scope, dim, group in change.groups:
            by_scope[scope].add((dim, group))
        for sub in self.subscribers:
            view = sub.view
            mine = by_scope.get(view.scope, ())
            headline = ("city", CITY) in by_scope.get(view.headline_scope, ())
            activities = [e for e in change.activities if view.sees_activity(e.unit_id, e.district_id)]
            if not (mine or headline or activities):
                continue
            sub.groups.update(mine)
            sub.headline |= headline
            for entry in reversed(activities):  # oldest first, so the newest ends up in front
                sub.latest.appendleft(entry)
            sub.wake.set()

    def returns_changed(self, pairs: Iterable[Pair]) -> None:
        pairs = list(pairs)
        for sub in self.subscribers:
            mine = [p for p in pairs if sub.view.sees_unit(p[0])]
            if mine:
                sub.returns.update(mine)
                sub.wake.set()

    def alerts_raised(self, alerts: Iterable[dict]) -> None:
        alerts = list(alerts)
        for sub in self.subscribers:
            mine = [a for a in alerts if sub.view.sees_unit(a["unit_id"])]
            if mine:
                sub.alerts.extend(mine)
                sub.wake.set()
