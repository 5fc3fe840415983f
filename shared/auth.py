"""API tokens of units, districts, the office and wall screens (`viewer`, read-only): issued once,
stored only as a SHA-256 hash, revocable; every service authenticates readers and writers with them
(shared table `api_tokens`)."""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import asyncpg

from shared import audit, db

Role = Literal["unit", "district", "office", "viewer"]
ROLES: tuple[str, ...] = ("unit", "district", "office", "viewer")
# What a viewer token (a wall screen's) may read; every other request with it is a 403.
VIEWER_READS = frozenset({("GET", "/v1/totals"), ("GET", "/v1/stream")})
MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(pool: asyncpg.Pool) -> None:
    """The token table is shared by every service; each applies these migrations at start-up."""
    await db.migrate(pool, "auth", MIGRATIONS)


@dataclass(frozen=True)
class Principal:
    unit_id: str
    role: Role
    token_id: str = field(default="", compare=False)  # first 12 hex of its hash: the audit trail names the token so


def token_id(token: str) -> str:
    return hash_token(token)[:12]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(pool: asyncpg.Pool, unit_id: str, role: Role = "unit", by: audit.Actor = audit.CLI) -> str:
    token = f"qm_{secrets.token_urlsafe(32)}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO api_tokens (token_hash, unit_id, role) VALUES ($1, $2, $3)", hash_token(token), unit_id, role
        )
        await audit.record(conn, by, "token.issue", unit_id, details={"token_id": token_id(token), "role": role})
    return token


async def keep_token(pool: asyncpg.Pool, token: str, unit_id: str, role: Role) -> bool:
    """Register a token kept from an earlier start (e.g. after the database was reset); False when
    it was revoked, and a new one must be issued."""
    await pool.execute(
        "INSERT INTO api_tokens (token_hash, unit_id, role) VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING",
        hash_token(token), unit_id, role,
    )
    return await authenticate(pool, token) == Principal(unit_id, role)


async def revoke_tokens(pool: asyncpg.Pool, unit_id: str, token: str | None = None, by: audit.Actor = audit.CLI) -> int:
    """Revoke every live token of a unit, or only `token` (e.g. after issuing its replacement)."""
    async with pool.acquire() as conn, conn.transaction():
        revoked = await conn.fetch(
            """UPDATE api_tokens SET revoked_at = now()
               WHERE unit_id = $1 AND ($2::text IS NULL OR token_hash = $2) AND revoked_at IS NULL RETURNING token_hash""",
            unit_id, hash_token(token) if token is not None else None,
        )
        await audit.record(conn, by, "token.revoke", unit_id, details={"token_ids": [r["token_hash"][:12] for r in revoked]})
    return len(revoked)


async def authenticate(pool: asyncpg.Pool, token: str) -> Principal | None:
    if len(token) > 512:  # no token of ours is that long; do not hash megabytes per request
        return None
    return await _lookup(pool, hash_token(token))


async def _lookup(pool: asyncpg.Pool, digest: str) -> Principal | None:
    row = await pool.fetchrow("SELECT unit_id, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", digest)
    return Principal(row["unit_id"], row["role"], digest[:12]) if row else None


class TokenCache:
    """Tokens seen valid in the last `ttl_s` seconds, by hash: a request then costs no PostgreSQL
    round trip for its caller (measured: one of ~11 per single-report request, issue 13). A revoked
    token therefore stops working within `ttl_s` in every service; unknown tokens are not cached."""

    def __init__(self, ttl_s: float = 1.0, max_entries: int = 10_000):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._valid: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, pool: asyncpg.Pool, token: str) -> Principal | None:
        if len(token) > 512:
            return None
        digest, now = hash_token(token), time.monotonic()
        hit = self._valid.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await _lookup(pool, digest)
        if found is None:
            self._valid.pop(digest, None)
            return None
        if len(self._valid) >= self.max_entries:  # many distinct callers: start over rather than grow
            self._valid.clear()
        self._valid[digest] = (found, now + self.ttl_s)
        return found
