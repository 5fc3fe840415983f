"""One whole stack for a module of console tests (starting it takes ~20 s; the tests share it)."""
from __future__ import annotations

from pathlib import Path

from deploy.embedded import EmbeddedBroker, free_port
from deploy.stack import Stack
from tests.conftest import new_database

# Week 2 of the campaign: W1 is overdue and escalated for every unit that has not filed.
CLOCK = {"QM_CLOCK_START": "2022-09-12T10:00:00+08:00", "QM_CLOCK_SPEED": "1"}


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
