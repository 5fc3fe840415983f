"""shared.heap: freed heap goes back to the system (RSS falls) once the trimming thread runs."""
from __future__ import annotations

from pathlib import Path

from shared.heap import _libc_trim, start_trimming
from tests.helpers import wait_until


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_freed_small_buffers_are_returned_to_the_system():
    # Heap that earlier tests freed would take the buffers without any growth of RSS (seen in the
    # whole suite: 45 MB for 80 MB of buffers): give it back first, so what they take shows.
    _libc_trim()(0)
    before = _rss_mb()
    # Many small buffers (below glibc's mmap threshold) stay in the heap after they are freed, as a
    # catch-up's fetch buffers do; the last one keeps the top of the heap from shrinking by itself.
    buffers = [bytes(2048) for _ in range(40_000)]
    keep = bytes(2048)
    peak = _rss_mb()
    assert peak - before > 50
    del buffers
    assert start_trimming(every_s=0.05) is not None
    wait_until(lambda: _rss_mb() < peak - 40, timeout=10, what="RSS given back")
    assert keep
