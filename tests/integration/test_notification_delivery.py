"""Alert delivery against real local receivers: a webhook server that fails its first attempts
(retries with backoff, verifiable signature, dead-letter) and an SMTP server (aiosmtpd)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import date, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from deploy.embedded import free_port
from services.notification.app import create_app
from shared import auth, topics
from shared.events import ActivityReport, Issue, ReportValidated, TotalsChanged
from shared.kafka import publish
from tests.integration.test_notification_deadlines import DUE, eventually, running, settings_for, w1_only_campaign

SECRET = "samr-webhook-secret-0123456789"


class Receiver(ThreadingHTTPServer):
    """A unit's webhook endpoint: /flaky fails the first two attempts of each delivery, /down always."""

    def __init__(self):
        self.calls: list[dict] = []
        super().__init__(("127.0.0.1", free_port()), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        calls = self.server.calls  # type: ignore[attr-defined]
        delivery = self.headers["X-QM-Delivery"]
        attempt = 1 + sum(c["delivery"] == delivery for c in calls)
        calls.append({"path": self.path, "delivery": delivery, "attempt": attempt, "at": time.monotonic(),
                      "signature": self.headers["X-QM-Signature"], "body": body})
        ok = self.path == "/flaky" and attempt >= 3
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


class Mailbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


async def test_webhooks_retry_sign_and_dead_letter_and_mail_arrives(broker, database_url, tmp_path, receiver, mailbox):
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(
        f"""units:
  samr: {{webhook: {{url: "{receiver.url}/flaky", secret: "{SECRET}"}}, email: [quality@samr.example]}}
  pudong: {{webhook: {{url: "{receiver.url}/down", secret: "pudong-secret-0123456789"}}}}
  office: {{email: [office@quality.example]}}
""",
        encoding="utf-8",
    )
    settings = settings_for(
        broker, database_url, QM_CAMPAIGN_FILE=str(w1_only_campaign(tmp_path)),
        QM_CLOCK_START=(DUE + timedelta(hours=1)).isoformat(), QM_CLOCK_SPEED=1.0,  # just past the W1 deadline
        webhooks_file=str(contacts), smtp_host="127.0.0.1", smtp_port=mailbox.port,
        delivery_max_attempts=3, delivery_backoff_s=0.2,
    )
    async with running(settings) as (app, client):
        pool = app.state.pool
        flaky = await eventually(
            lambda: _async([c for c in receiver.calls if c["path"] == "/flaky" and c["attempt"] == 3]), what="third webhook attempt"
        )
        attempts = [c for c in receiver.calls if c["delivery"] == flaky[0]["delivery"]]
        assert [c["attempt"] for c in attempts] == [1, 2, 3]
        gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:])]
        assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps  # exponential backoff
        body = attempts[-1]["body"]
        assert attempts[-1]["signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        alert = json.loads(body)
        assert (alert["kind"], alert["unit_id"], alert["period_id"]) == ("overdue", "samr", "W1")
        # The receiver saw the call before the service recorded its answer: wait on the recorded state.
        row = await eventually(
            lambda: pool.fetchrow(
                "SELECT status, attempts FROM deliveries WHERE delivery_id = $1 AND status <> 'pending'", flaky[0]["delivery"]
            ),
            what="the third attempt recorded",
        )
        assert tuple(row) == ("delivered", 3)

        dead = await eventually(
            lambda: pool.fetchrow("SELECT * FROM deliveries WHERE recipient = 'pudong' AND status = 'dead'"), what="dead letter"
        )
        assert dead["attempts"] == 3 and "503" in dead["last_error"]
        assert sum(c["path"] == "/down" for c in receiver.calls) == 3

        mail = await eventually(lambda: _async(mailbox.messages), what="an e-mail")
        rcpts, msg = mail[0]
        assert rcpts == ["quality@samr.example"] and "报表逾期" in msg["Subject"]
        assert "逾期" in msg.get_content() and "Overdue" in msg.get_content()

        # A rejection notifies the unit; a milestone notifies the office.
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            now = app.state.clock.now()
            report = ActivityReport(report_id="r-1", version=1, title="质量开放日", focus_area="service", started_on=date(2022, 9, 5))
            verdict = ReportValidated(
                received_at=time.time(), campaign_time=now, source_event_id="src-1", submission_id="sub-1",
                unit_id="samr", district_id=None, report=report, verdict="rejected",
                issues=(Issue(code="date_outside_campaign", field="started_on", message_zh="日期不在活动期内", message_en="date outside the campaign"),),
            )
            await (await publish(producer, topics.REPORTS_REJECTED, verdict))
            await (await publish(producer, topics.TOTALS_CHANGED, TotalsChanged(received_at=time.time(), campaign_time=now, totals={"activities": 120})))
        finally:
            await producer.stop()
        office = {"Authorization": f"Bearer {await auth.issue_token(pool, 'office', 'office')}"}
        await eventually(lambda: _async(len(mailbox.messages) >= 3), what="rejection and milestone e-mails")
        subjects = {(r[0], m["Subject"].split(" / ")[0]) for r, m in mailbox.messages}
        assert {("quality@samr.example", "【质量月】报告退回"), ("office@quality.example", "【质量月】里程碑")} <= subjects
        kinds = {a["kind"] for a in (await client.get("/v1/alerts", params={"limit": 1000}, headers=office)).json()["alerts"]}
        assert {"overdue", "rejection", "milestone"} <= kinds
        metrics_text = (await client.get("/metrics")).text
        assert 'qm_notification_deliveries_total{channel="webhook",outcome="dead"}' in metrics_text
        await eventually(
            lambda: _settled(pool), what="every delivery delivered or dead"
        )
        calls_before_restart = len(receiver.calls)
        mails_before_restart = len(mailbox.messages)

    # A restart delivers nothing again: the queue remembers what was delivered or dead.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ticks = app.state.scheduler.ticks
        await eventually(lambda: _async(app.state.scheduler.ticks >= ticks + 2), what="two scheduler ticks after restart")
        assert len(receiver.calls) == calls_before_restart and len(mailbox.messages) == mails_before_restart


async def _settled(pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'pending'") == 0


async def _async(value):
    return value
