"""The whole system as processes: embedded broker and database (unless configured elsewhere),
then the four services, each waited for until /readyz answers; stopped in reverse order."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, stop_process
from shared.settings import DEFAULT_PORTS

SERVICES = ("submission", "validation", "aggregation", "notification", "console")


def _env_port(name: str, default: int | None = None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass
class Stack:
    """Starts what is missing; `env` overrides (e.g. QM_CLOCK_START) reach every service."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    # Ports may be chosen by environment (QM_<SERVICE>_PORT, QM_BROKER_PORT, QM_POSTGRES_PORT),
    # e.g. to run a second stack beside one on the default ports.
    ports: dict[str, int] = field(default_factory=lambda: {n: _env_port(f"QM_{n.upper()}_PORT", p) for n, p in DEFAULT_PORTS.items()})
    broker_port: int | None = field(default_factory=lambda: _env_port("QM_BROKER_PORT"))
    db_port: int | None = field(default_factory=lambda: _env_port("QM_POSTGRES_PORT"))
    external_kafka: str | None = field(default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    external_database: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL"))
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, workdir: Path, **kwargs) -> "Stack":
        ports = {name: free_port() for name in SERVICES}
        return cls(workdir, ports=ports, broker_port=free_port(), db_port=free_port(), **kwargs)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else self.external_kafka  # type: ignore[return-value]

    @property
    def database_url(self) -> str:
        return self.postgres.url if self.postgres else self.external_database  # type: ignore[return-value]

    def start_infra(self) -> None:
        """Start the embedded broker and database where none is configured."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.external_kafka is None and self.broker is None:
            self.broker = EmbeddedBroker(port=self.broker_port or 9092, log_path=self.workdir / "broker.log").start()
        if self.external_database is None and self.postgres is None:
            self.postgres = EmbeddedPostgres(self.workdir / "pgdata", port=self.db_port or 5433).start()

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
        env["DATABASE_URL"] = self.database_url
        env["QM_STATE_DIR"] = str(self.workdir)
        env.update({f"QM_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update({f"QM_{name.upper()}_URL": self.url(name) for name in SERVICES})
        env.update(self.env)
        return env

    def start_service(self, name: str) -> None:
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=self.service_env(), stdout=log, stderr=subprocess.STDOUT
        )

    def stop_service(self, name: str, sig: int = signal.SIGTERM) -> None:
        stop_process(self.procs.pop(name, None), sig)

    def start(self, timeout: float = 60) -> "Stack":
        self.start_infra()
        # One anchor for all: services that boot seconds apart still share one campaign clock.
        self.env.setdefault("QM_CLOCK_ANCHOR", str(time.time()))
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60, names=SERVICES) -> None:
        deadline = time.monotonic() + timeout
        pending = [n for n in names]
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"service {name} exited with code {proc.returncode}:\n{tail}")
                try:
                    if httpx.get(f"{self.url(name)}/readyz", timeout=1).status_code == 200:
                        pending.remove(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready within {timeout:.0f} s: {', '.join(pending)} (logs in {self.workdir})")

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop_service(name)
        if self.postgres is not None:
            self.postgres.stop()
        if self.broker is not None:
            self.broker.stop()
