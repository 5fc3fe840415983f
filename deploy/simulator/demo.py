"""`qm run --demo`: a fresh stack on an accelerated campaign clock, with the simulator playing in the background."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from deploy.embedded import stop_process
from deploy.stack import Stack

CLOCK_START = "2022-09-01T08:00:00+08:00"
SPEED = 4320  # campaign seconds per real second: September in 10 minutes, the final deadline ~3.5 minutes later
STARTUP_S = 12  # about how long the stack takes to get ready: the clock starts at 08:00 about then


def demo_stack(state_dir: Path, replicas: int = 1) -> Stack:
    """A stack in its own state folder, emptied first: every demo starts from an empty campaign."""
    workdir = state_dir / "demo"
    shutil.rmtree(workdir / "pgdata", ignore_errors=True)
    env = {"QM_CLOCK_START": CLOCK_START, "QM_CLOCK_SPEED": str(SPEED), "QM_CLOCK_ANCHOR": str(time.time() + STARTUP_S)}
    return Stack(workdir, env=env, replicas=replicas)


def start_player(stack: Stack, scale: float = 1.0) -> subprocess.Popen:
    """The simulator as its own process, its progress bar on this terminal; it checks the outcome at the end."""
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.simulator", "--scale", str(scale), "--run-id", f"demo{int(time.time())}"],
        env=stack.service_env(),
    )


def stop_player(proc: subprocess.Popen | None) -> None:
    stop_process(proc)
