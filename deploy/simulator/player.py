"""Plays a plan over the real HTTP API on the campaign clock, each unit's requests in order."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from deploy.simulator.plan import Action, Plan


@dataclass(frozen=True)
class Endpoints:
    submission: str
    aggregation: str
    notification: str


@dataclass
class Sent:
    action: Action
    http_status: int | None
    submission_id: str | None
    sent_at: datetime  # campaign instant the request left (estimated from the clock)
    error: str | None = None

    @property
    def slip(self) -> timedelta:
        return self.sent_at - self.action.at


@dataclass
class PlayResult:
    sent: list[Sent] = field(default_factory=list)
    burst: bool = False
    real_seconds: float = 0.0

    @property
    def http_rejected(self) -> set[str]:
        """Keys of invalid requests the API refused outright: no verdict, no rejection alert follows."""
        return {s.action.idempotency_key for s in self.sent if not s.action.valid and s.http_status in (400, 422)}

    def problems(self) -> list[str]:
        out = []
        for s in self.sent:
            if s.http_status not in s.action.expect_http:
                out.append(f"{s.action.label} by {s.action.unit_id} at {s.action.at:%m-%d %H:%M}: HTTP {s.http_status} "
                           f"(expected {'/'.join(map(str, s.action.expect_http))}) {s.error or ''}".rstrip())
            elif not self.burst and s.slip > s.action.margin:
                out.append(f"{s.action.label} by {s.action.unit_id} sent {s.slip} after {s.action.at:%m-%d %H:%M} "
                           f"(allowed {s.action.margin}): the player fell behind the clock")
        return out


class CampaignTime:
    """The system's campaign clock as read once from GET /v1/clock, then followed locally."""

    def __init__(self, now: datetime, speed: float):
        self.now0, self.speed, self.real0 = now, speed, time.monotonic()

    @classmethod
    async def read(cls, client: httpx.AsyncClient, notification: str) -> "CampaignTime":
        answer = (await client.get(f"{notification}/v1/clock")).raise_for_status().json()
        return cls(datetime.fromisoformat(answer["now"]), float(answer["speed"]))

    def now(self) -> datetime:
        return self.now0 + timedelta(seconds=(time.monotonic() - self.real0) * self.speed)

    def real_seconds_until(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds() / self.speed


async def play(
    plan: Plan, endpoints: Endpoints, tokens: dict[str, str], *, burst: bool = False, show_progress: bool = True,
    settle: bool = True,
) -> PlayResult:
    """Send every action at its campaign instant (or at once in burst mode); then, unless burst,
    wait until the clock passes `plan.settles_at`, when every deadline of the plan has passed."""
    result = PlayResult(burst=burst)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        clock = await CampaignTime.read(client, endpoints.notification)
        if not burst and clock.now() > plan.starts_at + plan.actions[0].margin:
            raise RuntimeError(
                f"the campaign clock ({clock.now():%Y-%m-%d %H:%M}) is already past the plan's start "
                f"({plan.starts_at:%Y-%m-%d %H:%M}); start the system with QM_CLOCK_START before it, or use burst mode"
            )
        locks: dict[str, asyncio.Lock] = {}
        stats: Counter = Counter()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[cyan]{task.fields[clock]}"), TextColumn("{task.fields[stats]}"))
        with Progress(*columns, disable=not show_progress, transient=False) as progress:
            task = progress.add_task("campaign", total=len(plan.actions), clock="", stats="")

            async def send(action: Action) -> None:
                async with locks.setdefault(action.unit_id, asyncio.Lock()):
                    sent = await _post(client, endpoints, tokens[action.unit_id], action, clock)
                result.sent.append(sent)
                stats["ok" if sent.http_status in action.expect_http else "unexpected"] += 1
                stats[action.label] += 1
                progress.update(task, advance=1, clock=f"{clock.now():%Y-%m-%d %H:%M}",
                                stats=f"{stats['submit']} submits  {stats['return']} returns  {stats['invalid']} invalid  "
                                      f"{stats['unexpected']} unexpected")

            pending = []
            for action in plan.actions:
                if not burst and (wait := clock.real_seconds_until(action.at)) > 0:
                    await asyncio.sleep(wait)
                pending.append(asyncio.create_task(send(action)))
            await asyncio.gather(*pending)
            if settle and not burst:
                progress.update(task, description="waiting for the last deadlines")
                while (wait := clock.real_seconds_until(plan.settles_at)) > 0:
                    progress.update(task, clock=f"{clock.now():%Y-%m-%d %H:%M}")
                    await asyncio.sleep(min(wait, 0.5))
    result.real_seconds = time.monotonic() - started
    return result


async def _post(client: httpx.AsyncClient, endpoints: Endpoints, token: str, action: Action, clock: CampaignTime) -> Sent:
    headers = {"Authorization": f"Bearer {token}"}
    if action.idempotency_key:
        headers["Idempotency-Key"] = action.idempotency_key
    if action.kind == "return":
        url, body = f"{endpoints.submission}/v1/returns", {"period_id": action.period_id, "note": "本期报送完毕"}
    else:
        url, body = f"{endpoints.submission}/v1/reports", {"reports": list(action.reports)}
    sent_at, error = clock.now(), None
    for attempt in range(5):  # a unit's system retries what it could not deliver, with the same key
        try:
            answer = await client.post(url, json=body, headers=headers)
            if answer.status_code >= 500 and attempt < 4:
                error = answer.text[:300]
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            submission_id = answer.json().get("submission_id") if answer.status_code < 300 else None
            if answer.status_code >= 300:
                error = answer.text[:300]
            return Sent(action, answer.status_code, submission_id, sent_at, error)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.2 * (attempt + 1))
    return Sent(action, None, None, sent_at, error)


async def issue_tokens(database_url: str, unit_ids: list[str]) -> tuple[dict[str, str], str]:
    """A unit token for each unit and one office token, straight into the shared token table."""
    from shared import auth, db

    pool = await db.create_pool(database_url, attempts=10)
    try:
        await auth.migrate(pool)
        tokens = {u: await auth.issue_token(pool, u, "unit") for u in unit_ids}
        return tokens, await auth.issue_token(pool, "office", "office")
    finally:
        await pool.close()
