"""The `qm` command: run the whole system, manage unit tokens."""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import typer
from rich.console import Console

from deploy.stack import SERVICES, Stack
from shared.refdata import units

app = typer.Typer(help="Quality Month Live", no_args_is_help=True, add_completion=False)
units_app = typer.Typer(help="Reporting units and their API tokens.", no_args_is_help=True)
app.add_typer(units_app, name="units")
console = Console()
STATE_DIR = Path(os.environ.get("QM_STATE_DIR", ".qm"))


@app.command()
def run(demo: bool = typer.Option(False, help="Also replay a simulated, accelerated campaign.")) -> None:
    """Start broker, database, the four services and the big screen; Ctrl-C stops everything."""
    stack = Stack(STATE_DIR)
    stopping = False

    def _stop(*_):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        with console.status("starting broker, database and services..."):
            stack.start()
        office_token = asyncio.run(_issue(stack.database_url, "office", "office"))
        console.print("[bold green]Quality Month Live is running[/]")
        for name in SERVICES:
            console.print(f"  {name:<13} {stack.url(name)}")
        console.print(f"  big screen    {stack.url('aggregation')}/screen?token={office_token}")
        console.print(f"  office token  {office_token}")
        console.print(f"  logs          {STATE_DIR}/*.log      Ctrl-C stops everything.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping..."):
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
    role: str = typer.Option("unit", help="unit (submits for itself), district (reads its district) or office (reads all)"),
) -> None:
    """Issue a new API token for a unit and print it once; only its hash is stored."""
    if role not in ("unit", "district", "office"):
        raise typer.BadParameter("role must be unit, district or office", param_hint="--role")
    if role != "office" and unit_id not in units():
        raise typer.BadParameter(f"unknown unit '{unit_id}'; see units.csv", param_hint="UNIT_ID")
    if role == "district" and units()[unit_id].kind != "district":
        raise typer.BadParameter(f"'{unit_id}' is not a district", param_hint="--role")
    try:
        token = asyncio.run(_issue(_database_url(), unit_id, role))
    except OSError as exc:
        console.print(f"[red]cannot reach the database ({exc}); is the system running (make run)?[/]")
        raise typer.Exit(1)
    typer.echo(token)
