"""`qm units issue-token` / `revoke-token` against real PostgreSQL: only hashes stored, revocation at once."""
from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from deploy import cli
from shared import auth, db


def _lookup(database_url: str, sql: str | None = None, token: str | None = None):
    async def run():
        pool = await db.create_pool(database_url)
        try:
            return await pool.fetch(sql) if sql else await auth.authenticate(pool, token)
        finally:
            await pool.close()

    return asyncio.run(run())


def test_cli_issues_and_revokes_unit_tokens(database_url):
    runner, env = CliRunner(), {"DATABASE_URL": database_url}
    first = runner.invoke(cli.app, ["units", "issue-token", "pudong"], env=env)
    second = runner.invoke(cli.app, ["units", "issue-token", "pudong", "--role", "district"], env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    token, reader = first.stdout.strip(), second.stdout.strip()
    assert _lookup(database_url, token=token) == auth.Principal("pudong", "unit")
    stored = {r["token_hash"] for r in _lookup(database_url, "SELECT token_hash FROM api_tokens")}
    assert token not in stored and auth.hash_token(token) in stored

    only_one = runner.invoke(cli.app, ["units", "revoke-token", "pudong", "--token", reader], env=env)
    assert only_one.exit_code == 0 and "revoked 1" in only_one.stdout
    assert _lookup(database_url, token=reader) is None and _lookup(database_url, token=token) is not None
    every = runner.invoke(cli.app, ["units", "revoke-token", "pudong"], env=env)
    assert "revoked 1" in every.stdout and _lookup(database_url, token=token) is None

    assert runner.invoke(cli.app, ["units", "issue-token", "atlantis"], env=env).exit_code != 0
    assert runner.invoke(cli.app, ["units", "issue-token", "samr", "--role", "district"], env=env).exit_code != 0
