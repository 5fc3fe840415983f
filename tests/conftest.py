"""Shared fixtures: one real PostgreSQL server per session, a fresh database and a fresh Tansu
broker per test that asks (Tansu starts in milliseconds), and the whole stack as processes."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from deploy.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from deploy.stack import Stack
from tests.helpers import bootstrap_of

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def pg_server():
    """URL of a PostgreSQL server's maintenance database: DATABASE_URL, or an embedded server."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    # Not below pytest's tmp root: every pytest session that starts resets that root to 0700, which
    # locks out the server's own system user while a concurrent session is mid-initdb.
    home = Path(tempfile.mkdtemp(prefix="qm-test-pg-"))
    server = EmbeddedPostgres(home / "data", port=free_port(), database="postgres", durable=False).start()
    yield server.url
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


def new_database(pg_server: str) -> str:
    """A new, empty database on the server at `pg_server` (its maintenance database's URL)."""
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create():
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{pg_server.rpartition('/')[0]}/{name}"


@pytest.fixture
def database_url(pg_server):
    """A new, empty database on the session's server."""
    return new_database(pg_server)


@contextmanager
def a_broker():
    """A fresh, empty Tansu broker (or the configured external one, shared, as its bootstrap string)."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
        return
    b = EmbeddedBroker(port=free_port()).start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def broker():
    """A fresh, empty Tansu broker (or the configured external one, shared)."""
    with a_broker() as b:
        yield b


@pytest.fixture
def make_stack(tmp_path, broker, database_url):
    """Start all four services as processes on free ports against this test's broker and database."""
    stacks: list[Stack] = []

    def start(env: dict[str, str] | None = None, timeout: float = 90, replicas: int = 1) -> Stack:
        stack = Stack.on_free_ports(
            tmp_path / f"stack{len(stacks)}", replicas=replicas, env=dict(env or {}), external_kafka=bootstrap_of(broker),
            external_database=database_url,
        )
        stacks.append(stack)
        return stack.start(timeout)

    yield start
    for stack in stacks:
        stack.stop()
