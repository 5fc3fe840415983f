"""PostgreSQL: the asyncpg pool and plain, versioned SQL migrations run at start-up."""
from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import asyncpg
import orjson

log = logging.getLogger(__name__)
_MIGRATION = re.compile(r"^(\d+)_[\w-]+\.sql$")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's reset query (one round trip per release): nothing here
    leaves session state behind (locks are transaction-scoped, no LISTEN, no SET); an open
    transaction is still rolled back by the pool itself."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5, attempts: int = 60) -> asyncpg.Pool:
    """Connect, waiting up to `attempts` half-seconds for the server to come up."""
    for attempt in range(attempts):
        try:
            return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session)
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            if attempt == attempts - 1:
                raise
            log.info("database not reachable yet (%s); retrying", exc)
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def migrate(pool: asyncpg.Pool, service: str, directory: Path) -> list[str]:
    """Apply the service's migrations not yet applied (files `NNN_name.sql`), in order, once each."""
    files = sorted(
        (int(m.group(1)), path) for path in Path(directory).glob("*.sql") if (m := _MIGRATION.match(path.name))
    )
    applied_now: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        # Services start together; the lock makes their first CREATE TABLEs take turns.
        await conn.execute("SELECT pg_advisory_xact_lock(7301)")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   service text NOT NULL, version int NOT NULL, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, version))"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations WHERE service = $1", service)}
        for version, path in files:
            if version in done:
                continue
            await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute(
                "INSERT INTO schema_migrations (service, version, name) VALUES ($1, $2, $3)", service, version, path.name
            )
            applied_now.append(path.name)
    if applied_now:
        log.info("%s: applied migrations %s", service, ", ".join(applied_now))
    return applied_now


# What a lost or refused database connection raises: the pool's connect (ConnectionRefusedError, an
# OSError), a server going down mid-query, or one still starting or shutting down.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
)


async def reachable(pool: asyncpg.Pool, timeout_s: float = 2.0) -> bool:
    """True if the database answers a trivial query within `timeout_s` (readiness, outage logs)."""
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await pool.fetchval("SELECT true"))
    except UNAVAILABLE:
        return False


async def lock_keys(conn: asyncpg.Connection, namespace: str, keys: list[str]) -> None:
    """Transaction-scoped advisory locks on `keys` (e.g. unit ids), taken in sorted order so two
    transactions never wait on each other crosswise; a hash collision only makes two keys share."""
    if keys:
        await conn.execute(
            """SELECT pg_advisory_xact_lock(hashtext($1), hashtext(k))
               FROM (SELECT k FROM unnest($2::text[]) AS k ORDER BY k) AS sorted""",
            namespace, sorted(keys),
        )


async def close_pool(pool: asyncpg.Pool, timeout_s: float = 10.0) -> None:
    """Close gracefully, but a connection still held after `timeout_s` (a query stuck on a dying
    server) must not hold the process: terminate the rest."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except (asyncio.TimeoutError, TimeoutError):
        log.error("database pool did not close within %.0f s; terminating its connections", timeout_s)
        pool.terminate()
