"""Two replicas' live totals on one real PostgreSQL: each keeps the rows it folded itself instead of
reading them back, and reads the rest from the ledger; both must show what a replica loading
everything from the ledger shows, whatever folded or rolled back in between."""
from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from services.aggregation.projection import Totals
from shared import db
from tests.unit.test_aggregation_totals import verdict

MIGRATIONS = Path(__file__).parents[2] / "services" / "aggregation" / "migrations"
CAMPAIGN = 2022


async def fold(totals: Totals, verdicts, *, commit: bool = True) -> None:
    """A fold in a transaction of its own, as the inbox runs it; `committed` only when it committed."""
    async with totals.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        result = await totals.fold(conn, verdicts)
        if not commit:
            await tx.rollback()
            return
        await tx.commit()
    totals.committed(result)


def shown(totals: Totals) -> dict:
    return {
        "table": {k: v for k, v in totals.table.items() if v},
        "recent": {s: [(e.unit_id, e.report_id, e.version, e.campaign_time) for e in es] for s, es in totals.recent.items() if es},
        "as_of": totals.as_of,
    }


SENT = itertools.count(1)


def report(unit: str, n: int, version: int = 1, participants: int = 10):
    v = verdict(unit, f"r{n}", version, {"activities": 1, "participants": participants},
                district="pudong" if unit == "pudong" else None, focus="publicity", day="2022-09-02")
    # Each later than the one before: the newest-first lists have one order.
    return v.model_copy(update={"campaign_time": v.campaign_time + timedelta(seconds=next(SENT))})


@pytest.mark.asyncio
async def test_replicas_show_the_ledger_whoever_folded(database_url):
    pool = await db.create_pool(database_url)
    try:
        await db.migrate(pool, "aggregation", MIGRATIONS)
        a, b = Totals(pool, CAMPAIGN, recent=5), Totals(pool, CAMPAIGN, recent=5)
        await a.refresh()
        await b.refresh()

        await fold(a, [report("pudong", i) for i in range(4)])
        await fold(b, [report("samr", i) for i in range(3)])
        await fold(a, [report("pudong", 1, version=2, participants=50)])  # a correction of a's own row
        # Rolled back: its change number is never committed, and none of it may show.
        await fold(a, [report("pudong", 9, participants=999)], commit=False)
        await fold(b, [report("pudong", 2, version=2, participants=70)])  # b corrects a row a folded
        await fold(a, [report("samr", 5)])
        assert a.own, "a kept the rows it folded"

        await a.refresh()
        await b.refresh()
        truth = Totals(pool, CAMPAIGN, recent=5)
        await truth.refresh()  # a replica starting now: everything from the ledger
        assert shown(a) == shown(b) == shown(truth)
        assert a.own == {}, "what was shown is forgotten"
        city = dict(a.headline())
        assert city == {"activities": 8, "participants": 10 * 2 + 50 + 70 + 10 * 3 + 10}
        assert ("pudong", "r9") not in {(e.unit_id, e.report_id) for e in a.latest("all")}
    finally:
        await pool.close()
