"""The tokens `qm run` hands out (the office's, and the wall screen's read-only one): minted on the
first start, kept in the state folder readable only by its owner, the same on every start."""
from __future__ import annotations

import json
import os
from pathlib import Path

from shared import auth, db

FILE_NAME = "tokens.json"
# name in the file -> (unit_id, role) it is registered as
KEPT = {"office": ("office", "office"), "screen": ("screen", "viewer")}


def _read(path: Path) -> dict[str, str]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def _write(path: Path, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(tokens, out, indent=2)
    path.chmod(0o600)  # also when the file existed with looser rights


async def ensure(database_url: str, state_dir: Path) -> dict[str, str]:
    """The kept tokens, registered in this database (which may be new); a revoked one is replaced."""
    path = state_dir / FILE_NAME
    tokens = _read(path)
    pool = await db.create_pool(database_url, attempts=4)
    try:
        await auth.migrate(pool)
        for name, (unit_id, role) in KEPT.items():
            token = tokens.get(name)
            if token is None or not await auth.keep_token(pool, token, unit_id, role):  # type: ignore[arg-type]
                tokens[name] = await auth.issue_token(pool, unit_id, role)  # type: ignore[arg-type]
    finally:
        await pool.close()
    _write(path, tokens)
    return tokens
