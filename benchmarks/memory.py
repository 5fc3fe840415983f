"""Peak and current resident memory of each process, from /proc (Linux)."""
from __future__ import annotations

from pathlib import Path


def rss_mb(pid: int) -> dict[str, float | None]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        return {"peak_mb": None, "now_mb": None}
    return {"peak_mb": fields.get("VmHWM"), "now_mb": fields.get("VmRSS")}


def stack_memory(stack) -> dict[str, dict]:
    out = {name: rss_mb(proc.pid) for name, proc in stack.procs.items()}
    if stack.broker is not None and stack.broker.proc is not None:
        out["broker (tansu)"] = rss_mb(stack.broker.proc.pid)
    return out
