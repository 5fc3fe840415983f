"""README's first command, verbatim, as a newcomer meets it: a fresh clone of the committed tree,
`make run` with none of our environment (relative state folder, default ports when they are free),
then `make run DEMO=1` in the same clone. The services must be healthy, the printed URLs must
answer, the screen's token must be read-only and the same on every start, and Ctrl-C must free
every port."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from deploy.embedded import free_ports
from shared.settings import DEFAULT_PORTS
from tests.e2e.test_run_command import flat, kill_leftovers, kill_tree, port_is_free
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
README_COMMAND = "make run"
INFRA_PORTS = {"QM_BROKER_PORT": 9092, "QM_POSTGRES_PORT": 5433}


def newcomer_env() -> dict[str, str]:
    """The environment of a fresh shell: nothing of ours, no virtualenv on the PATH."""
    ours = ("QM_", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    venv_bin = str(Path(os.sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def ports_for_this_machine(env: dict[str, str]) -> dict[str, int]:
    """The default ports when they are free (as for a newcomer); others only where one is taken."""
    wanted = {f"QM_{name.upper()}_PORT": port for name, port in DEFAULT_PORTS.items()} | INFRA_PORTS
    if all(port_is_free(p) for p in wanted.values()):
        return wanted
    chosen = dict(zip(wanted, free_ports(len(wanted))))
    env.update({k: str(v) for k, v in chosen.items()})
    return chosen


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert block, "README starts with a sh block of its commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def start(clone: Path, command: str, env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    # Its own process group, as a terminal's foreground job: Ctrl-C reaches make and qm alike.
    proc = subprocess.Popen(
        command.split(), cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
    wait_until(
        lambda: proc.poll() is not None or "Ctrl-C stops everything" in flat(output),
        timeout=420, interval=0.5, what=f"`{command}` printing its URLs",
    )
    assert proc.poll() is None, "".join(output)
    return proc, output


def ctrl_c(proc: subprocess.Popen, output: list[str], ports: list[int]) -> None:
    started = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=90)
    _, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"left running after Ctrl-C: {[' '.join(p.cmdline())[:120] for p in alive]}"
    assert not [p for p in ports if not port_is_free(p)], "ports still in use after Ctrl-C"
    assert "stopped." in flat(output)


def check_what_a_newcomer_sees(printed: str, ports: dict[str, int], clock: str) -> str:
    for name in DEFAULT_PORTS:
        url = f"http://127.0.0.1:{ports[f'QM_{name.upper()}_PORT']}"
        assert url in printed, printed
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200, name
    screen = re.search(r"(http://127\.0\.0\.1:\d+/screen\?token=(\S+))", printed)
    assert screen, printed
    screen_url, token = screen.groups()
    page = httpx.get(screen_url, timeout=5)
    assert page.status_code == 200 and "<html" in page.text.lower()
    agg = f"http://127.0.0.1:{ports['QM_AGGREGATION_PORT']}"
    notif = f"http://127.0.0.1:{ports['QM_NOTIFICATION_PORT']}"
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{agg}/v1/totals", headers=bearer, timeout=5).status_code == 200
    # The wall screen's key reads, and can act on nothing.
    assert httpx.get(f"{notif}/v1/alerts", headers=bearer, timeout=5).status_code == 403
    assert httpx.post(f"{notif}/v1/alerts/any/ack", headers=bearer, timeout=5).status_code == 403
    assert httpx.get(f"{agg}/v1/report/circular", headers=bearer, timeout=5).status_code == 403
    assert clock in printed and "质量月" in printed, "says which campaign and clock run"
    return screen_url


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the committed tree")
def test_readme_make_run_verbatim_from_a_fresh_clone():
    assert README_COMMAND in readme_commands()
    home = Path(tempfile.mkdtemp(prefix="qm-newcomer-"))
    clone = home / "qm"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = newcomer_env()
    ports = ports_for_this_machine(env)
    proc = None
    try:
        proc, output = start(clone, README_COMMAND, env)
        printed = flat(output)
        screen_url = check_what_a_newcomer_sees(printed, ports, clock="real clock")
        tokens = clone / ".qm" / "tokens.json"
        assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
        assert json.loads(tokens.read_text())["screen"] in screen_url
        ctrl_c(proc, output, list(ports.values()))

        proc, output = start(clone, f"{README_COMMAND} DEMO=1", env)
        printed = flat(output)
        assert check_what_a_newcomer_sees(printed, ports, clock="campaign clock from 2022-09-01") == screen_url, (
            "the same screen URL on every start"
        )
        ctrl_c(proc, output, list(ports.values()))
        proc = None
    finally:
        if proc is not None:
            kill_tree(proc)
        kill_leftovers(clone)
        shutil.rmtree(home, ignore_errors=True)
