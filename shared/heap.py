"""Give freed heap back to the system: a catch-up over a big backlog (Tansu answers ~5 MB per
partition per fetch whatever the fetch limits say) leaves glibc holding the freed buffers, and the
process's RSS stays at its peak (PLATFORM.md: 317 MB, of which `malloc_trim(0)` returned 186 MB)."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time

log = logging.getLogger(__name__)


def _libc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl, macOS): nothing to trim
        return None


def start_trimming(every_s: float = 5.0) -> threading.Thread | None:
    """A daemon thread that calls malloc_trim(0) every `every_s` seconds (a few ms each; glibc
    locks its arenas itself, so the event loop's thread may keep allocating meanwhile)."""
    trim = _libc_trim()
    if trim is None:
        return None

    def loop() -> None:
        while True:
            time.sleep(every_s)
            try:
                trim(0)
            except Exception:  # never let housekeeping take the service down
                log.exception("malloc_trim failed")
                return

    thread = threading.Thread(target=loop, name="heap-trim", daemon=True)
    thread.start()
    return thread


def tune_collector(young: int = 200_000) -> None:
    """The cyclic collector's defaults (a young collection once 700 more tracked objects are alive,
    a full one over the whole heap every 100 of those) are made for small programs: a batch of
    thousands of events triggered full collections often enough that decoding one event took 22 us
    instead of 5. A young collection once `young` more are alive instead: 50,000 still scanned each
    batch's live events a time or two (10% of validation's CPU, py-spy and an A/B with the collector
    off); a batch of 1,000 events holds about 50,000. What start-up made (modules, models,
    catalogues) is frozen out of every collection. Reference counting still frees almost everything
    at once; this only paces the search for cycles, and a 100,000-report run made none to find
    (`gc.DEBUG_SAVEALL` in every service: only start-up's logging configuration)."""
    gc.freeze()
    gc.set_threshold(young, 20, 20)
