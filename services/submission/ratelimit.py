"""Per-unit token buckets: a steady rate with room for bursts, in memory or shared by replicas in PostgreSQL."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class TokenBuckets:
    """`allow(key)` answers 0 when a request may pass, else the seconds until one may."""

    rate_per_s: float
    burst: float
    now: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, last refill)

    def allow(self, key: str, cost: float = 1.0) -> float:
        now = self.now()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate_per_s


class SharedBuckets:
    """The same buckets in PostgreSQL, so a unit's limit holds whichever replica its requests reach
    (in memory, N replicas would allow N times the rate). One statement per request; the table is
    unlogged: after a database crash every bucket starts full, which only forgives a little."""

    def __init__(self, pool, rate_per_s: float, burst: float):
        self.pool, self.rate_per_s, self.burst = pool, rate_per_s, burst

    async def allow(self, key: str, cost: float = 1.0) -> float:
        refilled = "least($3::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.refilled_at)::float8 * $2::float8)"
        row = await self.pool.fetchrow(
            f"""INSERT INTO rate_buckets AS b (unit_id, tokens, refilled_at, granted)
                VALUES ($1, $3::float8 - $4::float8, clock_timestamp(), true)
                ON CONFLICT (unit_id) DO UPDATE SET
                    granted = {refilled} >= $4::float8,
                    tokens = {refilled} - CASE WHEN {refilled} >= $4::float8 THEN $4::float8 ELSE 0 END,
                    refilled_at = clock_timestamp()
                RETURNING tokens, granted""",
            key, self.rate_per_s, self.burst, cost,
        )
        return 0.0 if row["granted"] else (cost - row["tokens"]) / self.rate_per_s
