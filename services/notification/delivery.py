"""Alert delivery beyond the screen: a PostgreSQL queue of webhook and e-mail deliveries, retried
with exponential backoff and dead-lettered after N failures, so a restart neither loses nor repeats."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import asyncpg
import httpx
import orjson

from services.notification import metrics
from shared.events import AlertRaised, decode

log = logging.getLogger(__name__)

KIND_ZH = {"reminder": "报表提醒", "overdue": "报表逾期", "escalation": "逾期督办", "rejection": "报告退回", "milestone": "里程碑", "dead_letter": "死信", "sent_back": "退回修改"}
LEASE_S = 60  # a claimed delivery is retried after this if its worker died mid-attempt


def sign(secret: str, body: bytes) -> str:
    """The X-QM-Signature header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempts: int, base: float, cap: float) -> float:
    """Wait before the next attempt after `attempts` failures: base, 2 base, 4 base, ... up to cap."""
    return min(cap, base * 2 ** (attempts - 1))


def payload(alert: AlertRaised) -> bytes:
    """The webhook body: the alert in the shape of GET /v1/alerts, plus its data."""
    return orjson.dumps(
        {"id": alert.alert_id, "kind": alert.kind, "unit_id": alert.unit_id, "period_id": alert.period_id,
         "raised_at": alert.raised_at.isoformat(), "message_zh": alert.message_zh, "message_en": alert.message_en,
         "data": alert.data},
        default=str,
    )


async def enqueue(conn: asyncpg.Connection, alert_id: str, recipients: list[str], channels: tuple[str, ...]) -> None:
    """Queue one delivery per configured target of the recipients (call in the alert's transaction)."""
    if "webhook" in channels:
        await conn.execute(
            """INSERT INTO deliveries (delivery_id, alert_id, channel, recipient, target)
               SELECT gen_random_uuid()::text, $1, 'webhook', unit_id, url FROM webhooks WHERE unit_id = ANY($2::text[])
               ON CONFLICT DO NOTHING""",
            alert_id, recipients,
        )
    if "email" in channels:
        await conn.execute(
            """INSERT INTO deliveries (delivery_id, alert_id, channel, recipient, target)
               SELECT gen_random_uuid()::text, $1, 'email', unit_id, address FROM email_recipients WHERE unit_id = ANY($2::text[])
               ON CONFLICT DO NOTHING""",
            alert_id, recipients,
        )


async def cancel_for_return(conn: asyncpg.Connection, campaign: int, unit_id: str, period_id: str) -> None:
    """A filing makes its pending reminders, overdue notices and escalations of this campaign moot."""
    await conn.execute(
        """UPDATE deliveries SET status = 'cancelled' WHERE status = 'pending' AND alert_id IN (
               SELECT alert_id FROM alerts WHERE campaign = $3 AND unit_id = $1 AND period_id = $2
                 AND kind IN ('reminder', 'overdue', 'escalation'))""",
        unit_id, period_id, campaign,
    )


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 6
    backoff_s: float = 2.0
    backoff_max_s: float = 600.0
    timeout_s: float = 5.0
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "qm@localhost"


class Deliverer:
    """Works the queue: claims due deliveries, attempts them, records the outcome. Only the running
    campaign's: another year's reminder is news to nobody now, and it waits for its own campaign."""

    def __init__(self, pool: asyncpg.Pool, config: DeliveryConfig, http: httpx.AsyncClient, campaign: int):
        self.pool, self.config, self.http, self.campaign = pool, config, http, campaign
        self.wake = asyncio.Event()

    async def run(self, idle_max_s: float = 1.0) -> None:
        while True:
            try:
                if batch := await self._claim():
                    await asyncio.gather(*(self._attempt(row) for row in batch))
                    continue
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("delivery queue unavailable (%s); retrying", exc)
            self.wake.clear()
            delay = await self._next_due_in(idle_max_s)
            try:
                await asyncio.wait_for(self.wake.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def _claim(self, limit: int = 20) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""UPDATE deliveries d SET next_attempt_at = now() + interval '{LEASE_S} seconds'
                FROM alerts a
                WHERE a.alert_id = d.alert_id AND d.delivery_id IN (
                    SELECT delivery_id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                      AND alert_id IN (SELECT alert_id FROM alerts WHERE campaign = $2)
                    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING d.delivery_id, d.channel, d.recipient, d.target, d.attempts, a.event,
                          (SELECT secret FROM webhooks w WHERE w.unit_id = d.recipient AND w.url = d.target) AS secret""",
            limit, self.campaign,
        )

    async def _next_due_in(self, cap: float) -> float:
        seconds = await self.pool.fetchval(
            """SELECT EXTRACT(EPOCH FROM min(d.next_attempt_at) - now()) FROM deliveries d JOIN alerts a USING (alert_id)
               WHERE d.status = 'pending' AND a.campaign = $1""",
            self.campaign,
        )
        return cap if seconds is None else max(0.01, min(cap, float(seconds)))

    async def _attempt(self, row: asyncpg.Record) -> None:
        alert = decode(AlertRaised, row["event"])
        try:
            if row["channel"] == "webhook":
                await self._post(row, alert)
            else:
                await asyncio.to_thread(self._mail, row, alert)
        except Exception as exc:  # any failure of a receiver is retried, never crashes the worker
            await self._failed(row, f"{type(exc).__name__}: {exc}"[:500])
        else:
            await self.pool.execute(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), last_error = NULL WHERE delivery_id = $1",
                row["delivery_id"],
            )
            metrics.DELIVERIES.labels(row["channel"], "delivered").inc()

    async def _failed(self, row: asyncpg.Record, error: str) -> None:
        attempts = row["attempts"] + 1
        if attempts >= self.config.max_attempts:
            await self.pool.execute(
                "UPDATE deliveries SET status = 'dead', attempts = $2, last_error = $3 WHERE delivery_id = $1",
                row["delivery_id"], attempts, error,
            )
            log.warning("delivery %s to %s dead after %d attempts: %s", row["delivery_id"], row["target"], attempts, error)
            metrics.DELIVERIES.labels(row["channel"], "dead").inc()
            return
        wait = backoff_s(attempts, self.config.backoff_s, self.config.backoff_max_s)
        await self.pool.execute(
            """UPDATE deliveries SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
               WHERE delivery_id = $1""",
            row["delivery_id"], attempts, error, wait,
        )
        metrics.DELIVERIES.labels(row["channel"], "failed").inc()

    async def _post(self, row: asyncpg.Record, alert: AlertRaised) -> None:
        if row["secret"] is None:
            raise LookupError("webhook no longer configured")
        body = payload(alert)
        answer = await self.http.post(
            row["target"], content=body, timeout=self.config.timeout_s,
            headers={"Content-Type": "application/json", "X-QM-Signature": sign(row["secret"], body),
                     "X-QM-Delivery": row["delivery_id"], "X-QM-Alert-Kind": alert.kind},
        )
        answer.raise_for_status()

    def _mail(self, row: asyncpg.Record, alert: AlertRaised) -> None:
        if not self.config.smtp_host:
            raise LookupError("no SMTP server configured")
        msg = EmailMessage()
        msg["From"], msg["To"] = self.config.smtp_from, row["target"]
        msg["Subject"] = f"【质量月】{KIND_ZH.get(alert.kind, alert.kind)} / QM {alert.kind}"
        msg["Message-ID"] = make_msgid(idstring=row["delivery_id"])
        msg["X-QM-Delivery"] = row["delivery_id"]
        msg.set_content(f"{alert.message_zh}\n\n{alert.message_en}\n\n(alert {alert.alert_id}, {alert.raised_at.isoformat()})\n")
        with smtplib.SMTP(self.config.smtp_host, self.config.smtp_port, timeout=self.config.timeout_s) as smtp:
            smtp.send_message(msg)
