"""CPU seconds per process tree, from /proc (Linux): what each part of the stack costs during a step."""
from __future__ import annotations

import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
LOAD = "load generator (bench, wrk)"  # the bench process and its children that are not the stack's


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named root and its living descendants (e.g. PostgreSQL's backends)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))):
            table[int(entry.name)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, named = {}, set(roots.values())
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += table.get(pid, (0, 0.0))[1]
            todo.extend(c for c in children.get(pid, []) if c not in named)  # another root counts apart
        out[name] = total
    return out


def stack_roots(stack) -> dict[str, int]:
    roots = {name: proc.pid for name, proc in stack.procs.items()}
    if stack.broker is not None and stack.broker.proc is not None:
        roots["broker (tansu)"] = stack.broker.proc.pid
    postgres = getattr(stack, "postgres", None)
    if postgres is not None and getattr(postgres, "proc", None) is not None:
        roots["postgresql"] = postgres.proc.pid
    roots[LOAD] = os.getpid()  # the services it started count apart
    return roots


class CpuWindow:
    """CPU share (1.0 = one core busy) of each part of the stack between start() and stop()."""

    def __init__(self, stack, **more_roots: int):
        self.roots = {**stack_roots(stack), **more_roots}

    def start(self) -> "CpuWindow":
        self._before, self._at = tree_seconds(self.roots), _now()
        return self

    def stop(self) -> dict[str, float]:
        after, wall = tree_seconds(self.roots), _now() - self._at
        self.seconds = {name: after[name] - self._before.get(name, 0.0) for name in self.roots}
        return {name: round(used / wall, 2) for name, used in self.seconds.items()} if wall > 0 else {}

    def ms_per(self, count: int, only: tuple[str, ...] | None = None) -> dict[str, float]:
        """CPU milliseconds per item (e.g. per report) by process (`only` those), and in all: robust to
        the machine's load, unlike rates (a busy machine slows each process but hardly changes its CPU
        per report)."""
        seconds = {name: used for name, used in self.seconds.items() if only is None or name in only}
        out = {name: round(used * 1000 / count, 3) for name, used in seconds.items()} if count else {}
        out["all"] = round(sum(seconds.values()) * 1000 / count, 3) if count else 0.0
        return out


def _now() -> float:
    return time.monotonic()
