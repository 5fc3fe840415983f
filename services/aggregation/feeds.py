"""The live view's other inputs: the returns board (latest state of every expected return) and
the alert feed; both persisted in PostgreSQL, so a restart loses neither, and both of the running
campaign only (period ids repeat every year)."""
from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict, deque
from datetime import datetime

import asyncpg

from services.aggregation import projection, store
from services.aggregation.completeness import Pair, ReturnState, expected_returns, fold_states
from services.aggregation.visibility import View
from shared.events import AlertRaised, ReturnStatusChanged
from shared.refdata import Campaign, units


class ReturnBoard:
    """The latest status per expected return; events for returns never expected are ignored."""

    def __init__(self, pool: asyncpg.Pool, campaign: Campaign):
        self.pool = pool
        self.campaign = campaign
        self.expected: list[Pair] = expected_returns(units(), campaign)
        self.expected_set = set(self.expected)
        self.board: dict[Pair, ReturnState] = {}
        self.as_of: datetime | None = None
        self.lag_s: float | None = None

    async def load(self) -> None:
        states = await store.load_return_states(self.pool, self.campaign.year)
        self.board = {p: s for p, s in states.items() if p in self.expected_set}
        if self.board:
            self.as_of = max(s.event_time for s in self.board.values())

    async def store(self, conn: asyncpg.Connection, events: list[ReturnStatusChanged]) -> int:
        """Store the states that are news (call in the inbox's transaction); every replica shows them
        after `reload`. Returns how many were news to this replica's board."""
        states = [
            ReturnState(e.unit_id, e.period_id, e.status, e.due_at, e.filed_at, e.campaign_time) for e in events
        ]
        changed = fold_states(self.board, states, self.expected_set)
        await store.save_return_states(conn, list(changed.values()), self.campaign.year)
        if changed:
            await projection.announce(conn, "returns", max(e.received_at for e in events))
        return len(changed)

    async def reload(self, received_at: float | None = None) -> list[Pair]:
        """Read the board again (any replica may have changed it); returns the pairs that changed."""
        states = await store.load_return_states(self.pool, self.campaign.year)
        fresh = {p: s for p, s in states.items() if p in self.expected_set and self.board.get(p) != s}
        self.board.update(fresh)
        if fresh:
            newest_time = max(s.event_time for s in fresh.values())
            self.as_of = max(self.as_of, newest_time) if self.as_of else newest_time
        if received_at is not None:
            self.lag_s = round(max(0.0, time.time() - received_at), 3)
        return list(fresh)

    def freshness(self) -> dict:
        return {"as_of": self.as_of.isoformat() if self.as_of else None, "lag_s": self.lag_s}


def alert_dict(row: dict, lag_s: float | None = None) -> dict:
    """The ALERT shape of the contract, plus the freshness of the event that raised it."""
    return {
        "id": row["alert_id"], "kind": row["kind"], "unit_id": row["unit_id"], "period_id": row["period_id"],
        "raised_at": row["raised_at"].isoformat(), "message_zh": row["message_zh"], "message_en": row["message_en"],
        # Acknowledgements live in the notification service; the feed shows alerts as raised.
        "acked": False,
        "as_of": row["campaign_time"].isoformat(), "lag_s": lag_s,
    }


class AlertFeed:
    """The newest alerts of every unit, for the snapshot; an alert id seen before is a redelivery and
    not news. Kept per unit, so that each viewer gets ITS newest `size`: cutting the city's newest
    first and filtering after left a unit 2 of its 17 alerts, and milestones vanished (issue 16)."""

    def __init__(self, pool: asyncpg.Pool, campaign: int, size: int = 50):
        self.pool = pool
        self.campaign = campaign
        self.size = size
        self.by_unit: dict[str | None, deque[dict]] = defaultdict(self._newest)  # None: city-wide; newest first
        self.city: deque[dict] = self._newest()  # the office sees every alert

    def _newest(self) -> deque[dict]:
        return deque(maxlen=self.size)

    async def load(self) -> None:
        self._fill(await store.latest_alerts(self.pool, self.size, self.campaign))

    def _fill(self, rows: list[dict]) -> None:
        self.by_unit.clear()
        self.city.clear()
        for row in rows:  # newest first
            alert = alert_dict(row)
            self.by_unit[alert["unit_id"]].append(alert)
            if len(self.city) < self.size:
                self.city.append(alert)

    def visible(self, view: View) -> list[dict]:
        """The newest `size` alerts this viewer may see, newest first."""
        if view.city_wide:
            return list(self.city)
        mine = [alerts for unit_id, alerts in self.by_unit.items() if view.sees_unit(unit_id)]
        newest = heapq.merge(*mine, key=lambda a: datetime.fromisoformat(a["raised_at"]), reverse=True)
        return list(itertools.islice(newest, self.size))

    async def store(self, conn: asyncpg.Connection, events: list[AlertRaised]) -> int:
        """Store alerts not seen before (call in the inbox's transaction); returns how many are new."""
        rows = {
            e.alert_id: {
                "alert_id": e.alert_id, "kind": e.kind, "unit_id": e.unit_id, "period_id": e.period_id,
                "raised_at": e.raised_at, "message_zh": e.message_zh, "message_en": e.message_en,
                "campaign_time": e.campaign_time, "received_at": e.received_at,
            }
            for e in events
        }
        new = await store.save_alerts(conn, list(rows.values()), self.campaign)
        if new:
            await projection.announce(conn, "alerts", max(rows[i]["received_at"] for i in new))
        return len(new)

    async def reload(self) -> list[dict]:
        """Read the newest alerts again (any replica may have stored some); returns those this replica
        had not shown yet, oldest first."""
        rows = await store.latest_alerts(self.pool, self.size, self.campaign)
        known = {a["id"] for a in self.city} | {a["id"] for alerts in self.by_unit.values() for a in alerts}
        self._fill(rows)
        now = time.time()
        return [alert_dict(r, round(max(0.0, now - r["received_at"]), 3)) for r in reversed(rows) if r["alert_id"] not in known]
