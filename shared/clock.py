"""The campaign clock: real time, or a set and accelerated time shared by every process."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable


@dataclass(frozen=True)
class CampaignClock:
    """Campaign time = start + (real time - anchor) * speed.

    Every process gets the same anchor (QM_CLOCK_ANCHOR, a real Unix time set once by whoever
    starts the system), so services that boot seconds apart still agree on campaign time.
    """

    start: datetime | None = None
    speed: float = 1.0
    anchor: float = field(default_factory=time.time)
    real_time: Callable[[], float] = time.time

    def now(self) -> datetime:
        real = self.real_time()
        if self.start is None:
            return datetime.fromtimestamp(real, timezone.utc)
        return self.start + timedelta(seconds=(real - self.anchor) * self.speed)

    def real_seconds_until(self, instant: datetime) -> float:
        """How many real seconds until the campaign clock shows `instant` (negative if past)."""
        return (instant - self.now()).total_seconds() / self.speed

    def to_dict(self) -> dict:
        return {"now": self.now().isoformat(), "speed": self.speed}
