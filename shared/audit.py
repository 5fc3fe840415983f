"""The audit trail: every admin action, append-only, with who (token id and role), when, what and
why. Every service writes here (table `audit_log`, created with the token table); the console reads it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

COLUMNS = [
    ("seq", "序号"), ("at", "时间"), ("actor_id", "操作人令牌"), ("actor_role", "角色"),
    ("action", "操作"), ("target", "对象"), ("reason", "原因"), ("details", "详情"),
]
ACTIONS_ZH = {
    "token.issue": "签发令牌", "token.revoke": "吊销令牌", "report.send_back": "退回修改", "alert.ack": "确认提醒",
    "contacts.change": "修改联系方式", "delivery.retry": "重发投递", "rules.change": "校验规则变更",
}


@dataclass(frozen=True)
class Actor:
    actor_id: str
    role: str


CLI = Actor("cli", "operator")


def actor_of(principal: Any) -> Actor:
    """The audit's `who` for an authenticated caller (shared.auth.Principal)."""
    return Actor(getattr(principal, "token_id", "") or principal.unit_id, principal.role)


async def record(
    conn: asyncpg.Connection | asyncpg.Pool, who: Actor, action: str, target: str | None = None,
    reason: str | None = None, details: dict | None = None,
) -> None:
    """Append one entry; pass the connection of the action's own transaction where there is one."""
    await conn.execute(
        "INSERT INTO audit_log (actor_id, actor_role, action, target, reason, details) VALUES ($1, $2, $3, $4, $5, $6)",
        who.actor_id, who.role, action, target, reason, details or {},
    )


def _view(r: asyncpg.Record) -> dict:
    at: datetime = r["at"]
    return {"seq": r["seq"], "at": at.isoformat(), "actor_id": r["actor_id"], "actor_role": r["actor_role"],
            "action": r["action"], "target": r["target"], "reason": r["reason"], "details": r["details"]}


async def entries(pool: asyncpg.Pool, action: str | None = None, limit: int = 500) -> list[dict]:
    """Newest first."""
    rows = await pool.fetch(
        "SELECT * FROM audit_log WHERE ($1::text IS NULL OR action = $1) ORDER BY seq DESC LIMIT $2", action, limit
    )
    return [_view(r) for r in rows]


async def last(pool: asyncpg.Pool, action: str, target: str | None = None) -> dict | None:
    row = await pool.fetchrow(
        "SELECT * FROM audit_log WHERE action = $1 AND ($2::text IS NULL OR target = $2) ORDER BY seq DESC LIMIT 1",
        action, target,
    )
    return _view(row) if row else None
