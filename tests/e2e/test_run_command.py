"""`qm run` (what `make run` starts): broker, database and four services come up and print their URLs;
Ctrl-C stops every process it started and frees every port."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psutil

from deploy.embedded import free_ports
from deploy.stack import SERVICES
from tests.helpers import wait_until


def qm_command() -> list[str]:
    script = Path(sys.executable).parent / "qm"
    return [str(script)] if script.exists() else [shutil.which("qm") or "qm"]


def flat(lines: list[str]) -> str:
    """The output with rich's line wrapping undone (it wraps at 80 columns when not on a terminal)."""
    return " ".join("".join(lines).split())


def kill_leftovers(state: Path) -> None:
    """After a failure, do not leave a database behind (it runs in its own session, out of the group)."""
    for p in psutil.process_iter(["cmdline"]):
        if str(state) in " ".join(p.info["cmdline"] or []):
            p.kill()


def kill_tree(proc) -> None:
    """After a failure: the process group, and what runs in sessions of its own (broker, database)."""
    if proc.poll() is not None:
        return
    descendants = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for p in descendants:
        try:
            p.kill()
        except psutil.Error:
            pass


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_ctrl_c_on_qm_run_leaves_no_process_and_no_port_behind(tmp_path):
    *picked, broker_port, db_port = free_ports(len(SERVICES) + 2)
    ports = dict(zip(SERVICES, picked))
    infra = {"QM_BROKER_PORT": broker_port, "QM_POSTGRES_PORT": db_port}
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env.update({f"QM_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update({k: str(v) for k, v in infra.items()})
    # The database runs as its own system user: keep its folder out of pytest's 0700 tmp root.
    state = Path(tempfile.mkdtemp(prefix="qm-test-run-"))
    env["QM_STATE_DIR"] = str(state / "state")
    # Its own process group, as a terminal gives a foreground job: Ctrl-C goes to the whole group.
    proc = subprocess.Popen(
        qm_command() + ["run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, process_group=0,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_until(
            lambda: proc.poll() is not None or "Ctrl-C stops everything" in flat(output),
            timeout=120, interval=0.2, what="qm run printing its URLs",
        )
        assert proc.poll() is None, "".join(output)
        printed = flat(output)
        for name, port in ports.items():
            assert f"http://127.0.0.1:{port}" in printed, printed
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200, name
        assert f"http://127.0.0.1:{ports['aggregation']}/screen?token=" in "".join(output).replace("\n", "")

        started = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in started]
        assert sum("services." in c for c in commands) == len(SERVICES), commands
        assert any("postgres" in c for c in commands) and any(" broker " in c for c in commands), commands

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(output)
    except BaseException:
        kill_tree(proc)
        kill_leftovers(state)
        raise
    reader.join(timeout=5)

    _, alive = psutil.wait_procs(started, timeout=10)
    busy = [port for port in [*ports.values(), *infra.values()] if not port_is_free(port)]
    leftovers = [(p.pid, " ".join(filter(None, p.cmdline()))[:160]) for p in alive]
    kill_leftovers(state)
    assert not leftovers, f"left running after Ctrl-C: {leftovers}"
    assert not busy, f"ports still in use after Ctrl-C: {busy}"
    assert "stopped." in flat(output)
    shutil.rmtree(state, ignore_errors=True)
