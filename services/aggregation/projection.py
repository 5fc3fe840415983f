"""The live totals: an in-memory copy of the shared cells in PostgreSQL, spread over scopes and
dimensions, plus how fresh they are and the newest accepted activities.

Every replica folds the verdict partitions it owns into the ledger and the cells (`fold`, in the
inbox's transaction), and every replica follows every change (`refresh`, by change number), so each
one serves the whole city's totals whichever replica folded them."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg
import orjson

from services.aggregation import store
from services.aggregation.totals import CITY, Cell, Entry, scopes_of, TotalKey, apply_send_backs, apply_verdicts, expand, unscale, unscale_exact
from shared import db
from shared.events import ReportSentBack, ReportValidated

SEP = "\x1f"
CHANNEL = "qm_aggregation"  # NOTIFY {"kind", "received_at"} when a fold commits: followers read the change
log = logging.getLogger(__name__)
Group = tuple[str, str, str]  # (scope, dimension, group)


async def announce(conn: asyncpg.Connection, kind: str, received_at: float, by: str | None = None) -> None:
    """Tell every replica (delivered when the transaction commits) that `kind` changed, and which one changed it."""
    note = {"kind": kind, "received_at": received_at} | ({"by": by} if by else {})
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, orjson.dumps(note).decode())


def _table_key(key: TotalKey) -> str:
    return SEP.join(key)


@dataclass
class Fold:
    """What one fold wrote: how many verdicts or send-backs changed the ledger, under which change number."""

    applied: int = 0
    seq: int | None = None
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Change:
    """What one batch changed: the groups whose totals moved and the newly accepted activities."""

    groups: set[Group] = field(default_factory=set)
    activities: list[Entry] = field(default_factory=list)
    applied: int = 0  # verdicts that changed the ledger (the rest were stale, redelivered or rejected)


class Totals:
    """Folds verdicts into the shared ledger and cells; follows the cells into the live table."""

    def __init__(self, pool: asyncpg.Pool, campaign: int, recent: int = 20):
        self.table: dict[str, int] = {}
        self.cells: dict[Cell, int] = {}
        self.pool = pool
        self.campaign = campaign  # the ledger's rows of other campaigns are never read nor counted
        self.seen = -1  # newest change number applied; -1: nothing loaded yet
        self.lock = asyncio.Lock()
        self.as_of: datetime | None = None
        self.lag_s: float | None = None
        self.recent_size = recent
        # Ledger rows this replica folded and committed, by change number: `refresh` takes them from
        # here instead of reading back what it has just written (9 us of PostgreSQL per report).
        self.own: dict[int, list[Entry]] = {}
        self.replica = uuid.uuid4().hex  # in its NOTIFYs: the inbox that folded a batch shows it itself
        self.recent: dict[str, list[Entry]] = {}  # scope -> newest accepted activities, newest first
        # (scope, dimension) -> group -> metrics ever set: reads touch only keys that may hold a value.
        self.index: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    async def fold(self, conn: asyncpg.Connection, verdicts: list[ReportValidated]) -> Fold:
        """Fold a batch into ledger and cells (call inside the inbox's transaction). The ledger makes
        redelivery harmless; a unit's rows are locked first, so a partition handed over mid-batch
        cannot fold one report twice. Hand the result to `committed` once the transaction commits."""
        return await self._fold(conn, {(v.unit_id, v.report.report_id) for v in verdicts}, apply_verdicts, verdicts)

    async def send_back(self, conn: asyncpg.Connection, sent: list[ReportSentBack]) -> Fold:
        """Take the versions sent back out of ledger and cells (inside the inbox's transaction)."""
        return await self._fold(conn, {(s.unit_id, s.report_id) for s in sent}, apply_send_backs, sent)

    async def _fold(self, conn: asyncpg.Connection, keys: set[tuple[str, str]], fold, events) -> Fold:
        await db.lock_keys(conn, "aggregation.ledger", sorted({k[0] for k in keys}))
        ledger = await store.load_entries(conn, keys, self.campaign)
        cells, changed = fold(ledger, events)
        if not changed:
            return Fold()
        seq = await store.next_change(conn)
        entries = list(changed.values())
        await store.save_entries(conn, entries, seq, self.campaign)
        await store.save_cells(conn, cells, seq, self.campaign)
        newest = max(events, key=lambda e: e.received_at)
        await announce(conn, "totals", newest.received_at, by=self.replica)
        return Fold(len(changed), seq, entries)

    def committed(self, fold: Fold) -> None:
        """`fold`'s transaction committed: its rows need not be read back (a fold that rolled back
        never gets here, so its change number is read from the ledger, where it is not)."""
        if fold.seq is not None and fold.seq > self.seen >= 0:
            self.own[fold.seq] = fold.entries

    async def _entries_between(self, conn: asyncpg.Connection, newest: int) -> list[Entry]:
        """The ledger rows changed after `seen` up to `newest`: this replica's own folds from memory,
        the stretches between them (other replicas' folds) from the ledger."""
        own = sorted(s for s in self.own if s <= newest)
        entries = [e for s in own for e in self.own.pop(s)]
        for after, before in zip([self.seen, *own], [*own, newest + 1]):
            if before - after > 1:
                entries += await store.entries_since(conn, after, before - 1, self.campaign)
        # A report folded by this replica and changed again by another one counts at its newest version.
        newest_of: dict[tuple[str, str], Entry] = {}
        for e in entries:
            kept = newest_of.get((e.unit_id, e.report_id))
            if kept is None or (e.version, e.withdrawn) > (kept.version, kept.withdrawn):
                newest_of[(e.unit_id, e.report_id)] = e
        return list(newest_of.values())

    async def refresh(self, received_at: float | None = None) -> Change:
        """Apply every change committed since the last refresh (by any replica) to the live table."""
        change = Change()
        async with self.lock:
            async with self.pool.acquire() as conn:
                first = self.seen < 0
                cells, newest = await store.cells_since(conn, self.seen, self.campaign)
                if first:
                    entries = await store.latest_entries(self.pool, self.recent_size, self.campaign)
                    self.as_of = await store.newest_campaign_time(self.pool, self.campaign)
                else:
                    entries = await self._entries_between(conn, newest) if newest > self.seen else []
            deltas = {c: v - self.cells.get(c, 0) for c, v in cells.items() if v != self.cells.get(c, 0)}
            self.cells.update(cells)
            for key, delta in expand(deltas).items():
                table_key = _table_key(key)
                self.table[table_key] = self.table.get(table_key, 0) + delta
                scope, dim, group, metric = key
                self.index[(scope, dim)][group].add(metric)
                change.groups.add((scope, dim, group))
            self._remember(entries, change)
            if entries and not first:
                newest_time = max(datetime.fromisoformat(e.campaign_time) for e in entries)
                self.as_of = max(self.as_of, newest_time) if self.as_of else newest_time
            if received_at is not None:
                self.lag_s = round(max(0.0, time.time() - received_at), 3)
            self.seen = max(newest, 0)
            # A fold committed while this refresh read it from the ledger is shown already.
            self.own = {s: e for s, e in self.own.items() if s > self.seen}
        return change

    def _remember(self, entries, change: Change) -> None:
        entries = sorted(entries, key=lambda e: e.campaign_time, reverse=True)
        change.applied = len(entries)
        change.activities = [e for e in entries if not e.withdrawn]
        by_scope: dict[str, list[Entry]] = defaultdict(list)
        for entry in change.activities:
            for scope in scopes_of(entry):
                by_scope[scope].append(entry)
        gone = {(e.unit_id, e.report_id) for e in entries}
        for scope in set(by_scope) | set(self.recent):
            kept = [e for e in self.recent.get(scope, ()) if (e.unit_id, e.report_id) not in gone]
            self.recent[scope] = (by_scope.get(scope, []) + kept)[: self.recent_size]

    def latest(self, scope: str) -> list[Entry]:
        return self.recent.get(scope, [])

    def group(self, scope: str, dimension: str, group: str) -> dict[str, int | float]:
        values = {}
        for metric in sorted(self.index.get((scope, dimension), {}).get(group, ())):
            value = self.table.get(_table_key((scope, dimension, group, metric)), 0)
            if value:
                values[metric] = unscale(metric, value)
        return values

    def by(self, scope: str, dimension: str) -> dict[str, dict[str, int | float]]:
        groups = {g: self.group(scope, dimension, g) for g in sorted(self.index.get((scope, dimension), {}))}
        return {g: v for g, v in groups.items() if v}

    def headline(self, scope: str = CITY) -> dict[str, int | float]:
        return self.group(scope, "city", CITY)

    def headline_exact(self) -> dict[str, int | Decimal]:
        """City-wide totals with amounts as Decimal (for TotalsChanged)."""
        metrics = sorted(self.index.get((CITY, "city"), {}).get(CITY, ()))
        values = {m: self.table.get(_table_key((CITY, "city", CITY, m)), 0) for m in metrics}
        return {m: unscale_exact(m, v) for m, v in values.items() if v}

    def freshness(self) -> dict:
        return {"as_of": self.as_of.isoformat() if self.as_of else None, "lag_s": self.lag_s}
