"""`qm simulate`: plan, issue tokens, play on the campaign clock, then check the live system."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from rich.console import Console

from deploy.simulator.checker import CheckReport, check
from deploy.simulator.expected import Expected, expected_outcome
from deploy.simulator.plan import Plan, build_plan
from deploy.simulator.player import Endpoints, PlayResult, issue_tokens, play
from shared.refdata import units
from shared.settings import DEFAULT_PORTS, CommonSettings


def default_endpoints() -> Endpoints:
    """The services' URLs as the stack hands them to its processes (QM_<SERVICE>_URL), else `make run`'s ports."""
    def url(name: str) -> str:
        return os.environ.get(f"QM_{name.upper()}_URL", f"http://127.0.0.1:{DEFAULT_PORTS[name]}")

    return Endpoints(url("submission"), url("aggregation"), url("notification"))


@dataclass
class Simulation:
    plan: Plan
    played: PlayResult
    expected: Expected
    report: CheckReport | None


async def simulate(
    *, database_url: str | None = None, endpoints: Endpoints | None = None, seed: int = 2022, scale: float = 1.0,
    run_id: str | None = None, active_units: int | None = None, burst: bool = False, verify: bool = True, show_progress: bool = True,
    check_timeout: float = 60, console: Console | None = None,
) -> Simulation:
    settings = CommonSettings()
    endpoints = endpoints or default_endpoints()
    all_units = units()
    plan = build_plan(settings.campaign(), all_units, seed=seed, scale=scale, run_id=run_id, active_units=active_units)
    say = (console or Console()).print
    say(f"plan: {len(plan.actions)} requests from {sum(p != 'silent' for p in plan.profiles.values())} units, "
        f"{plan.starts_at:%Y-%m-%d %H:%M} to {plan.settles_at:%Y-%m-%d %H:%M} campaign time (seed {seed}, scale {scale})")
    tokens, office = await issue_tokens(database_url or settings.database_url, sorted(all_units))
    played = await play(plan, endpoints, tokens, burst=burst, show_progress=show_progress)
    for line in played.problems()[:20]:
        say(f"[yellow]{line}[/]")
    expected = expected_outcome(plan, all_units, played.http_rejected)
    report = await check(expected, played, endpoints, office, tokens, timeout=check_timeout) if verify else None
    if report is not None:
        say(report.render())
    return Simulation(plan, played, expected, report)


def run_simulation(**kwargs) -> Simulation:
    return asyncio.run(simulate(**kwargs))

