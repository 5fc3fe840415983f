"""The live totals: a faust table kept equal to the ledger's sums, plus how fresh they are."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime

import asyncpg
import faust

from services.aggregation import store
from services.aggregation.totals import CITY, TotalKey, apply_verdicts, unscale
from shared.events import ReportValidated

SEP = "\x1f"


def _table_key(key: TotalKey) -> str:
    return SEP.join(key)


class Totals:
    """Owns the totals table; every change goes through `apply` or `reconcile`, under one lock."""

    def __init__(self, app: faust.App, pool: asyncpg.Pool):
        # use_partitioner: batches update the table outside faust's per-event context.
        self.table = app.Table("totals", default=int, use_partitioner=True, partitions=1)
        self.pool = pool
        self.lock = asyncio.Lock()
        self.as_of: datetime | None = None
        self.lag_s: float | None = None
        self.listeners: list[asyncio.Queue] = []

    async def apply(self, verdicts: list[ReportValidated]) -> dict[TotalKey, int]:
        """Fold a batch of verdicts into ledger and totals; the ledger commit makes redelivery harmless."""
        async with self.lock:
            async with self.pool.acquire() as conn, conn.transaction():
                keys = {(v.unit_id, v.report.report_id) for v in verdicts}
                ledger = await store.load_entries(conn, keys)
                deltas, changed = apply_verdicts(ledger, verdicts)
                await store.save_entries(conn, list(changed.values()))
            for key, delta in deltas.items():
                self.table[_table_key(key)] += delta
            if verdicts:
                newest = max(verdicts, key=lambda v: v.received_at)
                self.as_of = max(self.as_of or newest.campaign_time, newest.campaign_time)
                self.lag_s = round(time.time() - newest.received_at, 3)
        return deltas

    async def reconcile(self) -> None:
        """Make the table equal the ledger's sums (after a restart, or a broker that forgot all)."""
        async with self.lock:
            truth = {_table_key(k): v for k, v in (await store.rebuild_totals(self.pool)).items()}
            for key in list(self.table.keys()):
                if key not in truth and self.table[key]:
                    self.table[key] = 0
            for key, value in truth.items():
                if self.table[key] != value:
                    self.table[key] = value
            self.as_of = await store.newest_campaign_time(self.pool)

    def by(self, dimension: str) -> dict[str, dict[str, int | float]]:
        groups: dict[str, dict[str, int | float]] = defaultdict(dict)
        for key, value in self.table.items():
            dim, group, metric = key.split(SEP)
            if dim == dimension and value:
                groups[group][metric] = unscale(metric, value)
        return dict(groups)

    def city(self) -> dict[str, int | float]:
        return self.by("city").get(CITY, {})

    def freshness(self) -> dict:
        return {"as_of": self.as_of.isoformat() if self.as_of else None, "lag_s": self.lag_s}
