"""The live totals: a faust table kept equal to the ledger's sums, plus how fresh they are and the
newest accepted activities."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg
import faust

from services.aggregation import store
from services.aggregation.totals import CITY, Entry, scopes_of, TotalKey, apply_send_backs, apply_verdicts, expand, unscale, unscale_exact
from shared.events import ReportSentBack, ReportValidated

SEP = "\x1f"
log = logging.getLogger(__name__)
Group = tuple[str, str, str]  # (scope, dimension, group)


def _table_key(key: TotalKey) -> str:
    return SEP.join(key)


@dataclass
class Change:
    """What one batch changed: the groups whose totals moved and the newly accepted activities."""

    groups: set[Group] = field(default_factory=set)
    activities: list[Entry] = field(default_factory=list)
    applied: int = 0  # verdicts that changed the ledger (the rest were stale, redelivered or rejected)


class Totals:
    """Owns the totals table; every change goes through `apply` or `reconcile`, under one lock."""

    def __init__(self, app: faust.App, pool: asyncpg.Pool, campaign: int, recent: int = 20):
        # use_partitioner: batches update the table outside faust's per-event context.
        self.table = app.Table("totals", default=int, use_partitioner=True, partitions=1)
        self.pool = pool
        self.campaign = campaign  # the ledger's rows of other campaigns are never read nor counted
        self.lock = asyncio.Lock()
        self.dirty = asyncio.Event()  # the table may differ from the ledger: reconcile
        self.dirty.set()  # nothing checked yet
        self.as_of: datetime | None = None
        self.lag_s: float | None = None
        self.recent_size = recent
        self.recent: dict[str, list[Entry]] = {}  # scope -> newest accepted activities, newest first
        # (scope, dimension) -> group -> metrics ever set: reads touch only keys that may hold a value.
        self.index: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    async def apply(self, verdicts: list[ReportValidated]) -> Change:
        """Fold a batch of verdicts into ledger and totals; the ledger commit makes redelivery harmless."""
        return await self._fold({(v.unit_id, v.report.report_id) for v in verdicts}, apply_verdicts, verdicts)

    async def send_back(self, sent: list[ReportSentBack]) -> Change:
        """Take the versions sent back out of ledger and totals."""
        return await self._fold({(s.unit_id, s.report_id) for s in sent}, apply_send_backs, sent)

    async def _fold(self, keys, fold, events) -> Change:
        async with self.lock:
            async with self.pool.acquire() as conn, conn.transaction():
                ledger = await store.load_entries(conn, keys, self.campaign)
                cells, changed = fold(ledger, events)
                await store.save_entries(conn, list(changed.values()), self.campaign)
            change = Change()
            try:
                for key, delta in expand(cells).items():
                    table_key = _table_key(key)
                    self.table[table_key] = self.table.get(table_key, 0) + delta
                    scope, dim, group, metric = key
                    self.index[(scope, dim)][group].add(metric)
                    change.groups.add((scope, dim, group))
            except Exception:
                # e.g. the changelog topic is gone (broker reset): the ledger has the batch, the
                # table is repaired from it, and the batch is not retried (that would count it twice).
                log.exception("totals table update failed; reconciling from the ledger")
                self.dirty.set()
            self._remember(changed.values(), change)
            if events:
                newest = max(events, key=lambda v: v.received_at)
                newest_time = max(v.campaign_time for v in events)
                self.as_of = max(self.as_of, newest_time) if self.as_of else newest_time
                self.lag_s = round(max(0.0, time.time() - newest.received_at), 3)
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

    async def reconcile(self) -> Change:
        """Make the table equal the ledger's sums (after a restart, or a broker that forgot all)."""
        change = Change()
        async with self.lock:
            self.dirty.clear()
            truth = expand(await store.rebuild_cells(self.pool, self.campaign))
            wanted = {_table_key(k): v for k, v in truth.items()}
            for key in list(self.table.keys()):
                if key not in wanted and self.table.get(key, 0):
                    self.table[key] = 0
                    change.groups.add(tuple(key.split(SEP)[:3]))
            for key, value in wanted.items():
                if self.table.get(key, 0) != value:
                    self.table[key] = value
                    change.groups.add(tuple(key.split(SEP)[:3]))
            self.index.clear()
            for scope, dim, group, metric in truth:
                self.index[(scope, dim)][group].add(metric)
            self.as_of = await store.newest_campaign_time(self.pool, self.campaign)
            self.recent = {}
            for entry in await store.latest_entries(self.pool, self.recent_size, self.campaign):
                for scope in scopes_of(entry):
                    self.recent.setdefault(scope, []).append(entry)
        return change

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
