"""The per-unit rate limit in PostgreSQL holds across submission replicas (two limiters, one database)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.submission.ratelimit import SharedBuckets
from shared import db

pytestmark = pytest.mark.asyncio
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "submission" / "migrations"


async def test_two_replicas_share_one_bucket_per_unit(database_url):
    pools = [await db.create_pool(database_url) for _ in range(2)]
    try:
        await db.migrate(pools[0], "submission", MIGRATIONS)
        replicas = [SharedBuckets(pool, rate_per_s=0.5, burst=3) for pool in pools]
        waits = [await replicas[i % 2].allow("pudong") for i in range(5)]
        assert waits[:3] == [0.0, 0.0, 0.0]  # the burst, spent on both replicas together
        assert all(w > 0 for w in waits[3:]), waits  # in memory each replica would still allow 3
        assert await replicas[1].allow("huangpu") == 0.0  # another unit has its own bucket
        concurrent = await asyncio.gather(*(replicas[i % 2].allow("jingan") for i in range(8)))
        assert sum(w == 0.0 for w in concurrent) == 3
    finally:
        for pool in pools:
            await pool.close()
