"""One whole stack for a module of console tests (starting it takes ~20 s; the tests share it)."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from deploy.embedded import EmbeddedBroker, free_port
from deploy.stack import Stack

# Week 2 of the campaign: W1 is overdue and escalated for every unit that has not filed.
CLOCK = {"QM_CLOCK_START": "2022-09-12T10:00:00+08:00", "QM_CLOCK_SPEED": "1"}


def new_database(pg_server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create():
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{pg_server.rpartition('/')[0]}/{name}"


def start(workdir: Path, pg_server: str, env: dict[str, str]) -> tuple[Stack, EmbeddedBroker]:
    broker = EmbeddedBroker(port=free_port()).start()
    stack = Stack.on_free_ports(workdir, env={**CLOCK, **env}, external_kafka=broker.bootstrap, external_database=new_database(pg_server))
    try:
        stack.start(120)
    except Exception:
        stack.stop()
        broker.stop()
        raise
    return stack, broker
