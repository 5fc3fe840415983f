"""Who hears about alerts beyond the screen: per-unit webhook (URL, secret) and e-mail addresses,
seeded from a YAML file (QM_NOTIFICATION_WEBHOOKS_FILE) into PostgreSQL.

    units:
      pudong: {webhook: {url: "https://...", secret: "..."}, email: [ops@pudong.example]}
      office: {email: [office@quality.example]}   # the campaign office (escalations, milestones)
"""
from __future__ import annotations

from pathlib import Path

import asyncpg
import yaml
from pydantic import BaseModel, ConfigDict, Field


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=16)


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
