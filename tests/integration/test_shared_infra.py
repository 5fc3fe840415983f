"""The embedded database launcher and the migration runner, against real PostgreSQL."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import asyncpg

from deploy.embedded import EmbeddedPostgres, free_port
from shared import db


async def test_migrations_apply_once_even_when_services_start_together(database_url, tmp_path):
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first (id int PRIMARY KEY);")
    (tmp_path / "002_second.sql").write_text("INSERT INTO first VALUES (1);")
    (tmp_path / "notes.txt").write_text("not a migration")
    pools = [await db.create_pool(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(db.migrate(p, "demo", tmp_path) for p in pools))
        assert sorted(map(len, results)) == [0, 0, 2]
        assert await pools[0].fetchval("SELECT count(*) FROM first") == 1
        assert await db.migrate(pools[0], "demo", tmp_path) == []
    finally:
        for p in pools:
            await p.close()


def test_embedded_postgres_keeps_data_across_restarts():
    # Not under pytest's tmp root: a concurrent pytest session resets it to 0700, locking out
    # the database's own system user.
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="qm-pg-")) / "data", port=free_port()).start()

    async def query(sql: str):
        conn = await asyncpg.connect(server.url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(query("CREATE TABLE kept AS SELECT 42 AS answer"))
        server.stop()
        assert server.proc.poll() is not None
        server.start()
        assert asyncio.run(query("SELECT answer FROM kept")) == 42
    finally:
        server.stop()
