"""The live stream over real HTTP (uvicorn in-process, real broker and PostgreSQL): snapshot on
connect, an accepted report reflected, at most 10 messages per second under a burst, returns and
alerts, role-based visibility, keep-alive and a fresh snapshot after reconnecting."""
from __future__ import annotations

import asyncio
import time
from datetime import date, datetime, timezone

import httpx
import orjson
import uvicorn

from deploy.embedded import free_port
from services.aggregation.app import create_app
from shared import topics
from shared.events import AlertRaised, ReturnStatusChanged
from tests.integration.test_aggregation_service import configure, send, tokens
from tests.unit.test_aggregation_totals import verdict

NOW = datetime(2022, 9, 9, 5, tzinfo=timezone.utc)


class Stream:
    """A minimal SSE reader: frames as (event, data, id, arrival time); comments as ('comment', text)."""

    def __init__(self, response: httpx.Response):
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 15) -> tuple:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> tuple:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line.startswith(":"):
                return "comment", line[1:].strip(), None, time.monotonic()
            if line == "":
                if fields:
                    return fields.get("event"), orjson.loads(fields.get("data", "null")), fields.get("id"), time.monotonic()
                continue
            name, _, value = line.partition(":")
            fields[name] = value.lstrip()
        raise EOFError

    async def until(self, check, timeout: float = 15) -> tuple:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next(max(0.1, deadline - time.monotonic()))
            if check(frame):
                return frame


async def serve(app, port):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
    return server, task


def report(unit, report_id, district, n=1, version=1, **kw):
    return verdict(unit, report_id, version, {"activities": 1, "participants": n}, district=district,
                   focus=kw.get("focus", "publicity"), day=date(2022, 9, 5))


async def test_live_stream(monkeypatch, broker, database_url, tmp_path):
    monkeypatch.setenv("QM_AGGREGATION_KEEPALIVE_S", "1")
    settings = configure(monkeypatch, broker, database_url, tmp_path)
    toks = await tokens(database_url)
    port = free_port()
    server, task = await serve(create_app(settings), port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=30)) as client:
            deadline = time.monotonic() + 60
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "not ready"
                await asyncio.sleep(0.2)
            assert (await client.get("/v1/stream")).status_code == 401

            async with client.stream("GET", "/v1/stream", params={"token": toks["office"]}) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = Stream(response)
                event, snap, first_id, _ = await stream.next()
                assert event == "snapshot" and snap["totals"] == {} and snap["latest"] == []
                assert set(snap["by"]) == {"district", "focus_area", "unit", "day"}
                assert snap["completeness"]["W1"]["expected"] == 56 and snap["completeness"]["W1"]["rate"] == 0
                assert len(snap["returns"]) == 56 * 5 and snap["clock"]["now"] and "next_deadline" in snap

                # Idle: a keep-alive comment.
                assert (await stream.next())[:2] == ("comment", "keep-alive")

                # One accepted report is reflected, with its freshness.
                await send(settings, topics.REPORTS_VALIDATED, [report("pudong", "p-1", "pudong", 40)])
                event, data, _, _ = await stream.until(lambda f: f[0] == "totals")
                assert data["totals"] == {"activities": 1, "participants": 40}
                assert data["by"]["district"] == {"pudong": {"activities": 1, "participants": 40}}
                assert data["latest"][0]["report_id"] == "p-1" and data["latest"][0]["unit_name_zh"] == "浦东新区"
                assert data["as_of"] and data["lag_s"] is not None

                # A burst: at most 10 messages per second, and the last one has the exact totals.
                burst = [report("samr", f"s-{i}", "xuhui", 1) for i in range(1500)]
                started = time.monotonic()
                for i in range(0, len(burst), 50):
                    await send(settings, topics.REPORTS_VALIDATED, burst[i : i + 50])
                arrivals = []
                data = {}
                while data.get("totals", {}).get("activities") != 1501:
                    event, data, _, arrived = await stream.until(lambda f: f[0] == "totals")
                    arrivals.append(arrived)
                elapsed = arrivals[-1] - started
                # Counted over the whole burst: arrival gaps on a loaded machine say more about the
                # client's scheduling than about the server's pacing (messages queue and land together).
                assert len(arrivals) <= 10 * elapsed + 2, (len(arrivals), elapsed)
                assert data["totals"] == {"activities": 1501, "participants": 1540}

                # Returns and alerts.
                await send(settings, topics.RETURNS_STATUS, [ReturnStatusChanged(
                    received_at=time.time(), campaign_time=NOW, unit_id="pudong", period_id="W1",
                    status="filed_on_time", due_at=NOW, filed_at=NOW)])
                event, data, _, _ = await stream.until(lambda f: f[0] == "returns")
                assert data["returns"][0]["status"] == "filed_on_time"
                assert data["completeness"]["W1"]["filed_on_time"] == 1 and data["as_of"]
                alert = AlertRaised(received_at=time.time(), campaign_time=NOW, alert_id="a-1", kind="overdue",
                                    unit_id="xuhui", period_id="W1", raised_at=NOW, message_zh="逾期", message_en="overdue")
                await send(settings, topics.ALERTS_RAISED, [alert, alert])  # the repeat is not news
                event, data, last_id, _ = await stream.until(lambda f: f[0] == "alert")
                assert data["id"] == "a-1" and data["kind"] == "overdue" and data["as_of"]

            # Reconnecting with Last-Event-ID starts with a fresh snapshot of the current state.
            headers = {"Last-Event-ID": last_id, "Authorization": f"Bearer {toks['office']}"}
            async with client.stream("GET", "/v1/stream", headers=headers) as response:
                event, snap, new_id, _ = await Stream(response).next()
                assert event == "snapshot" and int(new_id) > int(last_id)
                assert snap["totals"] == {"activities": 1501, "participants": 1540}
                assert [a["id"] for a in snap["alerts"]] == ["a-1"]
                assert snap["completeness"]["W1"]["filed_on_time"] == 1

            # A district sees only what took place in it, and only its own returns and alerts.
            async with client.stream("GET", "/v1/stream", params={"token": toks["district"]}) as response:
                event, snap, _, _ = await Stream(response).next()
                assert snap["totals"] == {"activities": 1, "participants": 40}
                assert set(snap["by"]["unit"]) == {"pudong"} and set(snap["by"]["district"]) == {"pudong"}
                assert {r["unit_id"] for r in snap["returns"]} == {"pudong"} and snap["alerts"] == []
                assert snap["completeness"]["W1"] == {"expected": 1, "filed_on_time": 1, "filed_late": 0,
                                                      "overdue": 0, "not_yet": 0, "rate": 1.0}
                assert [a["report_id"] for a in snap["latest"]] == ["p-1"]
            metrics = (await client.get("/metrics")).text
            assert "qm_aggregation_stream_clients 0.0" in metrics
    finally:
        server.should_exit = True
        await task
