"""The whole system as processes: embedded broker and database (unless configured elsewhere),
then N replicas of each of the four services, each waited for until /readyz answers; stopped in
reverse order."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.embedded import EmbeddedBroker, EmbeddedPostgres, free_ports, stop_process
from shared.settings import DEFAULT_PORTS

SERVICES = ("submission", "validation", "aggregation", "notification", "console")
REPLICA_PORT_STEP = 10  # replica i listens on the first one's port + 10 * i (8000, 8010, 8020, ...)


def _env_port(name: str, default: int | None = None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default


def instance_name(service: str, replica: int) -> str:
    """`submission` for the first replica, `submission-2` for the second: also its log file's name."""
    return service if replica == 0 else f"{service}-{replica + 1}"


def service_of(instance: str) -> str:
    """The service an instance name belongs to (`submission-2` -> `submission`)."""
    return instance.split("-")[0]


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
    replicas: int = 1
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        for service in SERVICES:
            for replica in range(1, self.replicas):
                self.ports.setdefault(instance_name(service, replica), self.ports[service] + REPLICA_PORT_STEP * replica)

    @classmethod
    def on_free_ports(cls, workdir: Path, replicas: int = 1, **kwargs) -> "Stack":
        names = [instance_name(s, r) for s in SERVICES for r in range(replicas)]
        *ports, broker_port, db_port = free_ports(len(names) + 2)
        return cls(workdir, ports=dict(zip(names, ports)), broker_port=broker_port, db_port=db_port, replicas=replicas, **kwargs)

    @property
    def instances(self) -> list[str]:
        return [instance_name(s, r) for s in SERVICES for r in range(self.replicas)]

    def url(self, instance: str) -> str:
        return f"http://127.0.0.1:{self.ports[instance]}"

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else self.external_kafka  # type: ignore[return-value]

    @property
    def database_url(self) -> str:
        return self.postgres.url if self.postgres else self.external_database  # type: ignore[return-value]

    def start_broker(self) -> None:
        self.broker = EmbeddedBroker(port=self.broker_port or 9092, log_path=self.workdir / "broker.log").start()

    def start_postgres(self) -> None:
        self.postgres = EmbeddedPostgres(self.workdir / "pgdata", port=self.db_port or 5433).start()

    def start_infra(self) -> None:
        """Start the embedded broker and database where none is configured."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.external_kafka is None and self.broker is None:
            self.start_broker()
        if self.external_database is None and self.postgres is None:
            self.start_postgres()

    def service_env(self, instance: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
        env["DATABASE_URL"] = self.database_url
        env["QM_STATE_DIR"] = str(self.workdir)
        # Every replica finds its peers' first replica by URL (e.g. a console reading the totals).
        env.update({f"QM_{name.upper()}_PORT": str(self.ports[name]) for name in SERVICES})
        env.update({f"QM_{name.upper()}_URL": self.url(name) for name in SERVICES})
        if instance is not None:
            service = service_of(instance)
            env[f"QM_{service.upper()}_PORT"] = str(self.ports[instance])
            env["QM_INSTANCE"] = instance
        env.update(self.env)
        return env

    def start_service(self, instance: str) -> None:
        log = open(self.workdir / f"{instance}.log", "ab")
        service = service_of(instance)
        self.procs[instance] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], env=self.service_env(instance), stdout=log, stderr=subprocess.STDOUT
        )

    def stop_service(self, instance: str, sig: int = signal.SIGTERM) -> None:
        stop_process(self.procs.pop(instance, None), sig)

    def start(self, timeout: float = 60) -> "Stack":
        self.start_infra()
        # One anchor for all: services that boot seconds apart still share one campaign clock.
        self.env.setdefault("QM_CLOCK_ANCHOR", str(time.time()))
        for instance in self.instances:
            self.start_service(instance)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60, names=None) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names or self.instances)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"service {name} exited with code {proc.returncode}:\n{tail}")
                try:
                    answer = httpx.get(f"{self.url(name)}/readyz", timeout=1)
                    # The service itself, not whatever else may hold its port.
                    if answer.status_code == 200 and answer.json().get("service") == service_of(name):
                        pending.remove(name)
                except (httpx.HTTPError, ValueError):
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
