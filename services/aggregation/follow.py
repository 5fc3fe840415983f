"""Every replica follows what any replica stored: a PostgreSQL NOTIFY (sent when a fold commits)
wakes it, and a slow periodic look covers a notification lost with a connection (the totals by
change number every few seconds, the returns board and alert feed every tenth look)."""
from __future__ import annotations

import asyncio
import logging

import asyncpg
import orjson

from services.aggregation.feeds import AlertFeed, ReturnBoard
from services.aggregation.hub import Hub
from services.aggregation.projection import CHANNEL, Totals

log = logging.getLogger(__name__)


class Follower:
    def __init__(self, dsn: str, totals: Totals, board: ReturnBoard, feed: AlertFeed, hub: Hub, every_s: float = 2.0):
        self.dsn, self.totals, self.board, self.feed, self.hub, self.every_s = dsn, totals, board, feed, hub, every_s
        self.wake = asyncio.Event()
        self.dirty = {"totals", "returns", "alerts"}
        self.received_at: dict[str, float] = {}
        self.loaded = asyncio.Event()
        self.lock = asyncio.Lock()

    def _notified(self, conn, pid, channel, payload: str) -> None:
        try:
            note = orjson.loads(payload)
            if note["kind"] == "totals" and note.get("by") == self.totals.replica:
                # This replica's inbox shows its own fold once committed, from what it folded (`sync`
                # after the commit); a refresh started now would read the same rows back instead.
                return
            self.dirty.add(note["kind"])
            self.received_at[note["kind"]] = max(self.received_at.get(note["kind"], 0.0), float(note["received_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.dirty.update(("totals", "returns", "alerts"))
        self.wake.set()

    async def sync(self, received_at: float | None = None) -> None:
        """Show every change committed so far (this replica's own batch included) to stream clients."""
        async with self.lock:
            dirty, self.dirty = self.dirty | {"totals"}, set()
            at = received_at or self.received_at.pop("totals", None)
            change = await self.totals.refresh(at)
            if change.groups or change.activities:
                self.hub.totals_changed(change)
            if "returns" in dirty:
                self.hub.returns_changed(await self.board.reload(self.received_at.pop("returns", None)))
            if "alerts" in dirty:
                self.hub.alerts_raised(await self.feed.reload())
        self.loaded.set()

    async def run(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await conn.add_listener(CHANNEL, self._notified)
                self.dirty.update(("totals", "returns", "alerts"))  # whatever happened while not listening
                looks = 0
                while True:
                    self.wake.clear()  # before the sync: a change committed during it wakes the next one
                    await self.sync()
                    try:
                        async with asyncio.timeout(self.every_s):
                            await self.wake.wait()
                    except TimeoutError:
                        looks += 1
                        if looks % 10 == 0:
                            self.dirty.update(("returns", "alerts"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: listen again when it is back
                log.warning("change follower: %r; reconnecting", exc)
                await asyncio.sleep(1.0)
            finally:
                if conn is not None:
                    try:
                        await conn.close(timeout=2)
                    except Exception:
                        pass
