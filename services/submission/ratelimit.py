"""Per-unit token buckets: a steady rate with room for bursts, in memory (one process per service)."""
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
