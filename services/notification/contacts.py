"""Who hears about alerts beyond the screen: per-unit webhook (URL, secret) and e-mail addresses,
seeded from a YAML file (QM_NOTIFICATION_WEBHOOKS_FILE) into PostgreSQL.

    units:
      pudong: {webhook: {url: "https://...", secret: "..."}, email: [ops@pudong.example]}
      office: {email: [office@quality.example]}   # the campaign office (escalations, milestones)
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import asyncpg
import yaml
from pydantic import BaseModel, ConfigDict, Field

from shared.events import StoredText


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: StoredText = Field(pattern=r"^https?://", max_length=2000)
    secret: StoredText = Field(min_length=16, max_length=500)


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook: Webhook | None = None
    email: list[str] = Field(default_factory=list)


class ContactsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: dict[str, Contact] = Field(default_factory=dict)


def load(path: Path) -> ContactsFile:
    """Parse and validate the file; a bad file stops the service at start-up."""
    return ContactsFile.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


async def seed(pool: asyncpg.Pool, contacts: ContactsFile) -> None:
    """The file is the source of truth: replace both tables with its contents."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM webhooks")
        await conn.execute("DELETE FROM email_recipients")
        await conn.executemany(
            "INSERT INTO webhooks (unit_id, url, secret) VALUES ($1, $2, $3)",
            [(u, c.webhook.url, c.webhook.secret) for u, c in contacts.units.items() if c.webhook],
        )
        await conn.executemany(
            "INSERT INTO email_recipients (unit_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(u, a) for u, c in contacts.units.items() for a in c.email],
        )


class ContactChange(BaseModel):
    """Body of PUT /v1/contacts/{unit_id}: the unit's whole contact set, and why it changes."""

    model_config = ConfigDict(extra="forbid")
    webhook: Webhook | None = None
    email: list[Annotated[StoredText, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]] = Field(default_factory=list, max_length=20)
    reason: StoredText = Field("", max_length=500)

    def public(self) -> dict:
        return {"webhook_url": self.webhook.url if self.webhook else None, "email": self.email}


async def replace(conn: asyncpg.Connection, unit_id: str, change: ContactChange) -> dict:
    """Replace one unit's contacts; answers what they were (without the secret)."""
    before = await _public(conn, [unit_id])
    await conn.execute("DELETE FROM webhooks WHERE unit_id = $1", unit_id)
    await conn.execute("DELETE FROM email_recipients WHERE unit_id = $1", unit_id)
    if change.webhook:
        await conn.execute("INSERT INTO webhooks (unit_id, url, secret) VALUES ($1, $2, $3)", unit_id, change.webhook.url, change.webhook.secret)
    await conn.executemany(
        "INSERT INTO email_recipients (unit_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING", [(unit_id, a) for a in change.email]
    )
    return before[0] if before else {"unit_id": unit_id, "webhook_url": None, "email": []}


async def _public(conn, unit_ids: list[str] | None) -> list[dict]:
    rows = await conn.fetch(
        """SELECT u.unit_id, w.url, coalesce(array_agg(e.address ORDER BY e.address) FILTER (WHERE e.address IS NOT NULL), '{}') AS email
           FROM (SELECT unit_id FROM webhooks UNION SELECT unit_id FROM email_recipients) u
           LEFT JOIN webhooks w ON w.unit_id = u.unit_id LEFT JOIN email_recipients e ON e.unit_id = u.unit_id
           WHERE $1::text[] IS NULL OR u.unit_id = ANY($1)
           GROUP BY u.unit_id, w.url ORDER BY u.unit_id""",
        unit_ids,
    )
    return [{"unit_id": r["unit_id"], "webhook_url": r["url"], "email": list(r["email"])} for r in rows]


async def listing(pool: asyncpg.Pool, unit_ids: list[str] | None) -> list[dict]:
    """Contacts of these units (None: all); a unit with none configured is listed empty when asked for."""
    async with pool.acquire() as conn:
        found = {c["unit_id"]: c for c in await _public(conn, unit_ids)}
    wanted = unit_ids if unit_ids is not None else sorted(found)
    return [found.get(u, {"unit_id": u, "webhook_url": None, "email": []}) for u in wanted]


async def deliveries(pool: asyncpg.Pool, campaign: int, status: str | None, unit_ids: list[str] | None, tz) -> list[dict]:
    rows = await pool.fetch(
        """SELECT d.delivery_id, d.alert_id, d.channel, d.recipient, d.target, d.status, d.attempts, d.last_error,
                  d.next_attempt_at, d.delivered_at, a.kind, a.unit_id, a.message_zh
           FROM deliveries d JOIN alerts a ON a.alert_id = d.alert_id
           WHERE a.campaign = $3 AND ($1::text IS NULL OR d.status = $1) AND ($2::text[] IS NULL OR d.recipient = ANY($2))
           ORDER BY a.raised_at DESC, d.delivery_id LIMIT 500""",
        status, unit_ids, campaign,
    )
    return [
        {**{k: r[k] for k in ("delivery_id", "alert_id", "channel", "recipient", "target", "status", "attempts",
                              "last_error", "kind", "unit_id", "message_zh")},
         "next_attempt_at": r["next_attempt_at"].astimezone(tz).isoformat(),
         "delivered_at": r["delivered_at"].astimezone(tz).isoformat() if r["delivered_at"] else None}
        for r in rows
    ]
