"""`qm run`'s local supervisor: restarts a service, the broker or the database that died (crash,
OOM, `kill -9`) with backoff, says so, and gives up loudly on one that keeps crashing.
Production leaves this to compose's and Kubernetes' restart policies."""
from __future__ import annotations

import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from deploy.stack import Stack

BROKER, DATABASE = "broker", "database"
PROBE_EVERY_S = 2  # /readyz of every service: cheap enough to share two cores with the load


@dataclass
class Backoff:
    """1 s, 2 s, 4 s ... up to `cap` between restarts; a process that stayed up `healthy_after`
    seconds starts again from 1 s. More than `max_restarts` within `window` seconds: give up."""

    first: float = 1.0
    cap: float = 30.0
    healthy_after: float = 60.0
    max_restarts: int = 5
    window: float = 300.0
    restarts: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    def delay(self, now: float) -> float | None:
        """Seconds to wait before the next restart, or None to give up."""
        if now - self.started_at >= self.healthy_after:
            self.restarts.clear()
        self.restarts = [t for t in self.restarts if now - t < self.window]
        if len(self.restarts) >= self.max_restarts:
            return None
        return min(self.cap, self.first * 2 ** len(self.restarts))

    def restarted(self, now: float) -> None:
        self.restarts.append(now)
        self.started_at = now


@dataclass
class Readiness:
    """A service's /readyz over time: one that was ready and then stays unready while the broker and
    the database serve (a consumer that silently stopped, a background task that died) is hung."""

    ready_once: bool = False
    unready_since: float | None = None

    def update(self, ready: bool, now: float) -> None:
        if ready:
            self.ready_once, self.unready_since = True, None
        elif self.unready_since is None:
            self.unready_since = now

    def hung_for(self, now: float, start_grace: float) -> float:
        """Seconds unready beyond what is normal; a start (group joins, table rebuild) gets `start_grace`."""
        if self.unready_since is None:
            return 0.0
        return now - self.unready_since - (0.0 if self.ready_once else start_grace)


class Supervisor:
    """Watches every process of a started Stack from a background thread: exits, and services that
    stay unready (liveness from real progress, as a Kubernetes liveness probe would)."""

    def __init__(self, stack: Stack, say: Callable[[str], None], poll_s: float = 0.5, hung_after_s: float = 45,
                 **backoff) -> None:
        self.stack = stack
        self.say = say
        self.poll_s = poll_s
        self.hung_after_s = hung_after_s
        self.backoff_args = backoff
        self.backoffs: dict[str, Backoff] = {}
        self.readiness: dict[str, Readiness] = {}
        self.infra_up_since = self.last_probe = time.monotonic()
        self.given_up: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qm-supervisor", daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Before the stack stops: a process stopped on purpose is not a crash."""
        self._stop.set()
        self._thread.join(timeout=60)

    def _watched(self) -> dict[str, int | None]:
        """Each watched process and its exit code (None while it runs)."""
        found: dict[str, int | None] = {}
        if self.stack.broker is not None and self.stack.broker.proc is not None:
            found[BROKER] = self.stack.broker.proc.poll()
        if self.stack.postgres is not None and self.stack.postgres.proc is not None:
            found[DATABASE] = self.stack.postgres.proc.poll()
        for name, proc in list(self.stack.procs.items()):
            found[name] = proc.poll()
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._round()
            except Exception as exc:  # the supervisor must outlive whatever it watches
                self.say(f"[red]supervisor: {exc!r}[/]")

    def _round(self) -> None:
        # The database first, then the broker: services restarted before them would only crash again.
        for name, code in sorted(self._watched().items(), key=lambda kv: (kv[0] != DATABASE, kv[0] != BROKER)):
            if code is None or name in self.given_up or self._stop.is_set():
                continue
            self._handle_exit(name, code)
        if time.monotonic() - self.last_probe >= PROBE_EVERY_S:
            self._check_hung()
            self.last_probe = time.monotonic()

    def _infra_serving(self) -> bool:
        ports = [s.port for s in (self.stack.broker, self.stack.postgres) if s is not None]
        for port in ports:
            with socket.socket() as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return False
        return True

    def _check_hung(self) -> None:
        now = time.monotonic()
        if not self._infra_serving():
            self.infra_up_since = now
        for name, proc in list(self.stack.procs.items()):
            if proc.poll() is not None or name in self.given_up:
                continue
            try:
                answer = httpx.get(f"{self.stack.url(name)}/readyz", timeout=1)
                ready, detail = answer.status_code == 200, answer.text[:200]
            except httpx.HTTPError as exc:
                ready, detail = False, repr(exc)
            state = self.readiness.setdefault(name, Readiness())
            state.update(ready, now)
            # An outage of the broker or database makes every service unready: that is not a hang.
            hung = state.hung_for(now, start_grace=2 * self.hung_after_s)
            if min(hung, now - self.infra_up_since) >= self.hung_after_s:
                self.say(f"[yellow]{name} has not been ready for {now - state.unready_since:.0f} s ({detail}); restarting it[/]")
                self.readiness.pop(name)
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                self._handle_exit(name, proc.returncode)

    def _handle_exit(self, name: str, code: int) -> None:
        backoff = self.backoffs.setdefault(name, Backoff(**self.backoff_args))
        now = time.monotonic()
        delay = backoff.delay(now)
        if delay is None:
            self.given_up.add(name)
            self.say(
                f"[bold red]{name} keeps crashing ({backoff.max_restarts} restarts within "
                f"{backoff.window:.0f} s, last exit code {code}); not restarting it. "
                f"See {self._log_of(name)}; Ctrl-C and make run again once it is fixed.[/]"
            )
            return
        self.say(f"[yellow]{name} exited with code {code}; restarting in {delay:.0f} s (log: {self._log_of(name)})[/]")
        if self._stop.wait(delay):
            return
        try:
            self._restart(name)
        except Exception as exc:  # a failed restart is one more crash: the next round backs off further
            self.say(f"[red]{name} did not restart: {exc}[/]")
        backoff.restarted(time.monotonic())
        if not self._stop.is_set():
            self.say(f"[green]{name} restarted[/]")

    def _restart(self, name: str) -> None:
        self.readiness.pop(name, None)
        if name == DATABASE:
            self.stack.start_postgres()
        elif name == BROKER:
            self.stack.start_broker()
        else:
            self.stack.start_service(name)

    def _log_of(self, name: str) -> str:
        workdir = self.stack.workdir
        if name == DATABASE:
            return str(workdir / "pgdata" / "server.log")
        return str(workdir / f"{name}.log")
