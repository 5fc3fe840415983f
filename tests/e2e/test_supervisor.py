"""`qm run` keeps what it started alive: a `kill -9` of a service, of the broker (which comes back
empty) and of the database under a steady stream of reports; each is restarted and logged, every
accepted report counts, and the totals end exact."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx
import psutil

from deploy.embedded import free_ports
from deploy.season import campaign_year
from deploy.stack import SERVICES
from tests.conftest import ARTIFACTS
from tests.e2e.test_run_command import flat, kill_leftovers, kill_tree, qm_command
from tests.helpers import issue_token, report, wait_until

UNITS = ["pudong", "huangpu", "samr"]


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:  # gone, or a zombie backend of the killed database
        return ""


def child(proc: subprocess.Popen, needle: str) -> psutil.Process:
    found = [p for p in psutil.Process(proc.pid).children(recursive=True) if needle in _cmdline(p)]
    assert found, f"no process matching {needle!r}"
    return min(found, key=lambda p: p.create_time())  # the postmaster, not one of its backends


def post_until_accepted(client: httpx.Client, token: str, body: dict, key: str) -> None:
    """A unit's system retries with the same Idempotency-Key until the report is accepted."""
    def accepted() -> bool:
        try:
            answer = client.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        except httpx.HTTPError:
            return False
        return answer.status_code == 202

    wait_until(accepted, timeout=90, interval=0.5, what=f"report {key} accepted")


def test_kill_9_of_any_process_under_qm_run_is_restarted_and_totals_stay_exact():
    *picked, broker_port, db_port = free_ports(len(SERVICES) + 2)
    ports = dict(zip(SERVICES, picked))
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env.update({f"QM_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update({"QM_BROKER_PORT": str(broker_port), "QM_POSTGRES_PORT": str(db_port)})
    home = Path(tempfile.mkdtemp(prefix="qm-test-supervise-"))
    env["QM_STATE_DIR"] = str(home / "state")
    env["QM_HUNG_AFTER_S"] = "20"  # a service left hung by the outages is restarted sooner than the 45 s default
    proc = subprocess.Popen(qm_command() + ["run"], env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, process_group=0)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        wait_until(lambda: proc.poll() is not None or "Ctrl-C stops everything" in flat(output), timeout=120,
                   interval=0.2, what="qm run ready")
        assert proc.poll() is None, "".join(output)
        database_url = f"postgresql://postgres@127.0.0.1:{db_port}/qm"
        tokens = {u: issue_token(database_url, u) for u in UNITS}
        office = issue_token(database_url, "office", "office")
        day = f"{campaign_year(datetime.now(timezone.utc))}-09-05"
        expected = 0
        # A service (the one with the most state to rebuild), the broker (back empty), the database.
        victims = ["aggregation", " broker ", "postgres"]
        with httpx.Client(base_url=url["submission"], timeout=10) as client:
            for round_no, victim in enumerate([None, *victims]):
                if victim is not None:
                    child(proc, f"services.{victim}" if victim in SERVICES else victim).kill()
                for i, unit in enumerate(UNITS):
                    rid = f"{unit}-r{round_no}-{i}"
                    body = report(rid, started_on=day, metrics={"activities": 1, "participants": 10 + round_no})
                    post_until_accepted(client, tokens[unit], {"reports": [body]}, rid)
                    expected += 1
                for name in SERVICES:  # served again
                    wait_until(lambda: _ready(url[name]), timeout=150, interval=0.5, what=f"{name} ready after {victim}")

        def totals():
            try:
                return httpx.get(f"{url['aggregation']}/v1/totals", headers={"Authorization": f"Bearer {office}"}, timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return {}

        want = {"activities": expected, "participants": sum(len(UNITS) * (10 + r) for r in range(len(victims) + 1))}
        seen: list[dict] = []
        try:
            wait_until(lambda: seen.append(totals()) or seen[-1].get("totals") == want, timeout=120, interval=0.5,
                       what="exact totals")
        except AssertionError:
            raise AssertionError(f"want {want}, last seen {seen[-1]}; stored: {_stored(database_url)}") from None
        log = (home / "state" / "supervisor.log").read_text(encoding="utf-8")
        for name in ["aggregation", "broker", "database"]:
            assert f"{name} exited with code -9; restarting" in log and f"{name} restarted" in log, log

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=90) == 0, "".join(output)
    except BaseException:
        kept = ARTIFACTS / "supervisor"  # whole, for finding the cause; the tail is shown with the failure
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        for log in sorted((home / "state").glob("*.log")):
            shutil.copy(log, kept / log.name)
            print(f"==> {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        print(f"whole logs kept in {kept}")
        raise
    finally:
        kill_tree(proc)
        kill_leftovers(home)
        shutil.rmtree(home, ignore_errors=True)


def _stored(database_url: str) -> dict:
    """Where the reports stand in PostgreSQL: which stage has how many (for a failure's message)."""
    async def counts() -> dict:
        conn = await asyncpg.connect(database_url)
        try:
            return {table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                    for table in ("submission_reports", "outbox", "verdicts", "ledger")}
        finally:
            await conn.close()

    return asyncio.run(counts())


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
