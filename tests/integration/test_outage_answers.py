"""Every service while its database is cut off (a TCP proxy that drops and refuses connections) or its
broker is stopped: requests get 503 with Retry-After (not 500), /readyz is 503, and both recover
on their own once the dependency is back (issue 16, finding 4)."""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from deploy.embedded import free_port
from services.aggregation.app import AggregationSettings, create_app as aggregation
from services.notification.app import NotificationSettings, create_app as notification
from services.submission.app import SubmissionSettings, create_app as submission
from services.validation.app import ValidationSettings, create_app as validation
from shared import auth
from tests.helpers import eventually, report


class Cuttable:
    """A TCP proxy to PostgreSQL whose link can be cut: open connections drop, new ones are refused."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def connect(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _serve(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def through(url: str, proxy: Cuttable) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo + '@' if userinfo else ''}127.0.0.1:{proxy.port}"))


@asynccontextmanager
async def service(create_app, settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc", timeout=30) as client:
            yield app, client


async def _ready(client) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _not_ready(client) -> bool:
    answer = await client.get("/readyz")
    return answer.status_code == 503 and answer


async def test_a_database_outage_is_503_with_retry_after_and_readiness_follows(broker, database_url, tmp_path, monkeypatch, caplog):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker")
    monkeypatch.setenv("QM_STATE_DIR", str(tmp_path))
    target = urlsplit(database_url)
    proxy = Cuttable(target.hostname, target.port)
    await proxy.connect()
    common = dict(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, DATABASE_URL=through(database_url, proxy))
    async with AsyncExitStack() as stack:
        sub, sub_client = await stack.enter_async_context(service(submission, SubmissionSettings(**common)))
        _, agg_client = await stack.enter_async_context(service(aggregation, AggregationSettings(**common)))
        _, notif_client = await stack.enter_async_context(service(notification, NotificationSettings(**common)))
        _, val_client = await stack.enter_async_context(service(validation, ValidationSettings(**common)))
        clients = [sub_client, agg_client, notif_client, val_client]
        unit = {"Authorization": f"Bearer {await auth.issue_token(sub.state.pool, 'minhang')}"}
        office = {"Authorization": f"Bearer {await auth.issue_token(sub.state.pool, 'office', 'office')}"}
        for client in clients:
            await eventually(lambda: _ready(client), timeout=90, what="ready before the outage")

        await proxy.cut()
        calls = [
            sub_client.post("/v1/reports", json={"reports": [report("r1")]}, headers=unit),
            sub_client.post("/v1/returns", json={"period_id": "W1"}, headers=unit),
            sub_client.get("/v1/submissions/" + "0" * 32, headers=unit),
            agg_client.get("/v1/totals", headers=office),
            agg_client.get("/v1/report/circular", headers=office),
            notif_client.get("/v1/alerts", headers=office),
            notif_client.get("/v1/returns/status", headers=office),
            notif_client.post("/v1/alerts/" + "0" * 32 + "/ack", headers=office),
        ]
        for answer in [await call for call in calls]:
            assert answer.status_code == 503, (answer.request.url, answer.status_code, answer.text)
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["issues"][0]["code"] == "unavailable"
        for client in clients:
            down = await eventually(lambda: _not_ready(client), timeout=20, what="not ready while the database is down")
            assert down.json()["checks"]["database"] is False
        assert 'qm_submission_requests_refused_total{code="unavailable",status="503"}' in (await sub_client.get("/metrics")).text
        # The outbox relay says what is down: it once blamed the broker for a refused database connection.
        relay_said = lambda: [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox relay:")]

        async def blamed_database():
            return any("database unavailable" in m for m in relay_said())

        await eventually(blamed_database, timeout=20, what="the relay logs the database outage")
        assert not any("broker unavailable" in m for m in relay_said())

        await proxy.connect()
        for client in clients:
            await eventually(lambda: _ready(client), timeout=30, what="ready again after the outage")
        assert (await sub_client.post("/v1/reports", json={"reports": [report("r2")]}, headers=unit)).status_code == 202

        broker.stop()
        for client in clients[1:]:
            down = await eventually(lambda: _not_ready(client), timeout=20, what="not ready while the broker is down")
            assert down.json()["checks"]["broker"] is False
        # Submission keeps accepting into its outbox: it must stay in the load balancer.
        assert (await sub_client.get("/readyz")).status_code == 200
        assert (await sub_client.post("/v1/reports", json={"reports": [report("r3")]}, headers=unit)).status_code == 202
        broker.start()
        for client in clients:
            await eventually(lambda: _ready(client), timeout=90, what="ready again after the broker came back")
    await proxy.cut()
