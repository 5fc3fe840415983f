"""The `qm` command: run the whole system, manage unit tokens."""
from __future__ import annotations

import asyncio
import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from deploy import credentials
from deploy import season as season_mod
from deploy.stack import Stack
from deploy.supervisor import Supervisor
from shared.auth import ROLES
from shared.refdata import units

app = typer.Typer(help="Quality Month Live", no_args_is_help=True, add_completion=False)
units_app = typer.Typer(help="Reporting units and their API tokens.", no_args_is_help=True)
app.add_typer(units_app, name="units")
console = Console()
# Absolute from the start: the database and the services run in other working folders.
STATE_DIR = Path(os.environ.get("QM_STATE_DIR", ".qm")).resolve()


@app.command()
def run(
    demo: bool = typer.Option(False, help="Also replay a simulated, accelerated 2022 campaign."),
    replicas: int = typer.Option(1, min=1, max=9, help="Processes of each service; replica i listens on the first one's port + 10*i."),
) -> None:
    """Start broker, database, the four services and the big screen, keep them up; Ctrl-C stops everything."""
    from deploy.simulator import demo as demo_mode

    stack = demo_mode.demo_stack(STATE_DIR, replicas=replicas) if demo else Stack(STATE_DIR, replicas=replicas)
    season, season_env = season_mod.choose(STATE_DIR, datetime.now(timezone.utc), {**os.environ, **stack.env}, demo=demo)
    stack.env.update(season_env)
    player = supervisor = None
    stopping = False
    log_file = STATE_DIR / "supervisor.log"

    def say(message: str) -> None:
        console.print(message, soft_wrap=True)
        with log_file.open("a", encoding="utf-8") as out:
            out.write(f"{datetime.now().isoformat(timespec='seconds')} {Text.from_markup(message).plain}\n")

    def _stop(*_):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    # Explicitly: a shell that starts us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    try:
        with console.status("starting broker, database and services..."):
            stack.start(timeout=120)
        tokens = asyncio.run(credentials.ensure(stack.database_url, STATE_DIR))
        supervisor = Supervisor(stack, say, hung_after_s=float(os.environ.get("QM_HUNG_AFTER_S", "45"))).start()
        console.print("[bold green]Quality Month Live is running[/]")
        for line in season.describe(datetime.now(timezone.utc)):
            console.print(f"  {line}", soft_wrap=True)
        for name in stack.instances:
            console.print(f"  {name:<15} {stack.url(name)}")
        console.print(f"  big screen      {stack.url('aggregation')}/screen?token={tokens['screen']}", soft_wrap=True)
        console.print("                  (a read-only viewer token: it reads the totals and the stream, nothing else)")
        console.print(f"  office token    in {STATE_DIR / credentials.FILE_NAME} (readable only by you)", soft_wrap=True)
        console.print(f"  logs            {stack.workdir}/*.log; crashed processes are restarted. Ctrl-C stops everything.", soft_wrap=True)
        if demo:
            console.print(f"  demo            September at x{demo_mode.SPEED}: about 10 minutes, then the final returns")
            player = demo_mode.start_player(stack)
        signal.pause()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError, OSError) as exc:
        console.print(f"[bold red]could not start: {exc}[/]", soft_wrap=True)
        console.print(f"logs: {stack.workdir}", soft_wrap=True)
        raise typer.Exit(1)
    finally:
        with console.status("stopping..."):
            if supervisor is not None:
                supervisor.stop()
            if player is not None:
                demo_mode.stop_player(player)
            stack.stop()
        console.print("stopped.")


async def _issue(database_url: str, unit_id: str, role: str) -> str:
    from shared import auth, db

    pool = await db.create_pool(database_url, attempts=4)
    try:
        await auth.migrate(pool)
        return await auth.issue_token(pool, unit_id, role)  # type: ignore[arg-type]
    finally:
        await pool.close()


def _database_url() -> str:
    from shared.settings import CommonSettings

    return CommonSettings().database_url


@units_app.command("issue-token")
def issue_token_cmd(
    unit_id: str,
    role: str = typer.Option(
        "unit", help="unit (submits for itself), district (reads its district), office (reads all) or viewer (a wall screen: reads totals and stream only)"
    ),
) -> None:
    """Issue a new API token for a unit and print it once; only its hash is stored."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if role in ("unit", "district") and unit_id not in units():
        raise typer.BadParameter(f"unknown unit '{unit_id}'; see units.csv", param_hint="UNIT_ID")
    if role == "district" and units()[unit_id].kind != "district":
        raise typer.BadParameter(f"'{unit_id}' is not a district", param_hint="--role")
    try:
        token = asyncio.run(_issue(_database_url(), unit_id, role))
    except OSError as exc:
        console.print(f"[red]cannot reach the database ({exc}); is the system running (make run)?[/]")
        raise typer.Exit(1)
    typer.echo(token)


async def _revoke(database_url: str, unit_id: str, token: str | None) -> int:
    from shared import auth, db

    pool = await db.create_pool(database_url, attempts=4)
    try:
        await auth.migrate(pool)
        return await auth.revoke_tokens(pool, unit_id, token)
    finally:
        await pool.close()


@units_app.command("revoke-token")
def revoke_token_cmd(
    unit_id: str,
    token: str = typer.Option(None, help="revoke only this token (default: every live token of the unit)"),
) -> None:
    """Revoke a unit's API tokens at once; requests with them get 401 from then on."""
    try:
        count = asyncio.run(_revoke(_database_url(), unit_id, token))
    except OSError as exc:
        console.print(f"[red]cannot reach the database ({exc}); is the system running (make run)?[/]")
        raise typer.Exit(1)
    typer.echo(f"revoked {count} token(s) of {unit_id}")


@app.command()
def simulate(
    scale: float = typer.Option(1.0, help="Activity volume; 1.0 is about the 2022 campaign's 1,000 activities."),
    seed: int = typer.Option(2022, help="The same seed plays the same campaign."),
    run_id: str = typer.Option(None, help="Prefix of report ids and idempotency keys (default: from the seed)."),
    burst: bool = typer.Option(False, help="Send everything at once, ignoring the campaign clock (checks totals only)."),
    check: bool = typer.Option(True, help="Compare the live system with the expected outcome at the end."),
    check_timeout: float = typer.Option(60.0, help="Seconds to wait for the system to converge."),
) -> None:
    """Play the 56 units' systems over the HTTP API on the campaign clock, then check the outcome."""
    from deploy.simulator.command import run_simulation

    result = run_simulation(scale=scale, seed=seed, run_id=run_id, burst=burst, verify=check, check_timeout=check_timeout, console=console)
    if result.played.problems() or (result.report is not None and not result.report.ok):
        raise typer.Exit(1)
