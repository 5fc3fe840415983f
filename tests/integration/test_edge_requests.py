"""Hostile and careless requests at the HTTP edge, against the real services in-process (issue 16):
text PostgreSQL cannot store, numbers out of range or not numbers, bodies that are not JSON, tokens
in URLs, URL text that reaches a query, and milestone visibility and acknowledgement."""
from __future__ import annotations

import base64
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import httpx
import pytest

from services.aggregation.app import AggregationSettings, create_app as aggregation
from services.notification import alerts
from services.notification.app import NotificationSettings, create_app as notification
from services.notification.deadlines import PlannedAlert
from shared import auth
from tests.helpers import report
from tests.integration.test_submission_api import bearer, running

NOW = datetime(2022, 9, 9, 5, tzinfo=timezone.utc)


@pytest.fixture
async def svc(broker, database_url):
    async with running(broker, database_url, rate_per_s=1000, rate_burst=1000) as s:
        yield s


def _code(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["issues"][0]["code"]


@pytest.mark.parametrize(
    "changes, code, field",
    [
        ({"title": "a\u0000b"}, "text.nul", "reports.0.title"),
        ({"district_id": "pu\u0000dong"}, "text.nul", "reports.0.district_id"),
        ({"metrics": {"activities": 2**64}}, "number.out_of_range", "reports.0.metrics.activities"),
        ({"metrics": {"activities": 2**63}}, "number.out_of_range", "reports.0.metrics.activities"),
        ({"metrics": {"activities": "５"}}, "number.type", "reports.0.metrics.activities"),
        ({"metrics": {"activities": " 5 "}}, "number.type", "reports.0.metrics.activities"),
        ({"metrics": {"activities": "1_000"}}, "number.type", "reports.0.metrics.activities"),
        ({"metrics": {"activities": "1e999999999"}}, "number.type", "reports.0.metrics.activities"),
    ],
)
async def test_reports_postgresql_or_the_contract_cannot_take_are_a_coded_bilingual_422(svc, changes, code, field):
    token = await auth.issue_token(svc.pool, "pudong")
    answer = await svc.client.post("/v1/reports", json={"reports": [report("r1", **changes)]}, headers=bearer(token))
    assert answer.status_code == 422, answer.text
    [found] = answer.json()["issues"]
    assert (found["code"], found["field"]) == (code, field)
    assert found["message_en"] and found["message_zh"] and found["message_zh"] != found["message_en"]
    assert await svc.pool.fetchval("SELECT count(*) FROM outbox") == 0
    exposition = (await svc.client.get("/metrics")).text
    assert f'qm_submission_requests_refused_total{{code="{code}",status="422"}}' in exposition


async def test_a_return_note_with_nul_is_refused(svc):
    token = await auth.issue_token(svc.pool, "pudong")
    answer = await svc.client.post("/v1/returns", json={"period_id": "W1", "note": "x\u0000"}, headers=bearer(token))
    assert _code(answer) == (422, "text.nul")


async def test_bodies_that_are_not_json_are_415(svc):
    token = await auth.issue_token(svc.pool, "pudong")
    body = b'{"reports": [{"report_id": "r1"}]}'
    for path in ("/v1/reports", "/v1/returns"):
        for media in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = bearer(token) | ({"Content-Type": media} if media else {})
            assert _code(await svc.client.post(path, content=body, headers=headers)) == (415, "body.media_type"), (path, media)
    ok = await svc.client.post("/v1/reports", json={"reports": [report("r1")]}, headers=bearer(token) | {"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 202


async def test_a_token_in_the_query_string_is_not_a_credential_here(svc):
    token = await auth.issue_token(svc.pool, "pudong")
    refused = await svc.client.post("/v1/reports", params={"token": token}, json={"reports": [report("r1")]})
    assert _code(refused) == (401, "unauthorized")
    assert _code(await svc.client.post("/v1/returns", params={"token": token}, json={"period_id": "W1"})) == (401, "unauthorized")
    accepted = await svc.client.post("/v1/reports", json={"reports": [report("r1")]}, headers=bearer(token))
    assert accepted.status_code == 202
    status = await svc.client.get(accepted.json()["status_url"], params={"token": token})
    assert _code(status) == (401, "unauthorized")


@asynccontextmanager
async def notifications(broker, database_url):
    app = notification(NotificationSettings(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, DATABASE_URL=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
            yield app, client


async def test_alert_urls_are_validated_and_milestones_are_seen_by_all_and_acked_by_the_office(broker, database_url):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker")
    async with notifications(broker, database_url) as (app, client):
        pool = app.state.pool
        unit, district = bearer(await auth.issue_token(pool, "samr")), bearer(await auth.issue_token(pool, "pudong", "district"))
        office = bearer(await auth.issue_token(pool, "office", "office"))
        async with pool.acquire() as conn, conn.transaction():
            [milestone] = await alerts.insert(
                conn, app.state.campaign.year, [PlannedAlert("milestone:activities:1000", "milestone", None, None, "全市活动达到 1000 场", "1,000 activities")], NOW, ()
            )

        # Text from the URL never reaches PostgreSQL unchecked: 4xx, never 500.
        assert _code(await client.get("/v1/alerts", params={"unit_id": "a\u0000b"}, headers=office)) == (422, "text.nul")
        assert _code(await client.get("/v1/alerts", params={"unit_id": "x" * 65}, headers=office))[0] == 422
        for bad in ("a%00b", "x" * 300, "0" * 31 + "g"):
            assert _code(await client.post(f"/v1/alerts/{bad}/ack", headers=office)) == (404, "not_found"), bad
        assert _code(await client.get("/v1/alerts", params={"token": office["Authorization"][7:]})) == (401, "unauthorized")
        nul_cursor = base64.urlsafe_b64encode(b"2022-09-09T05:00:00+00:00|a\x00b").decode()
        assert _code(await client.get("/v1/alerts", params={"cursor": nul_cursor}, headers=office)) == (422, "invalid_cursor")

        for who in (unit, district, office):
            seen = (await client.get("/v1/alerts", headers=who)).json()["alerts"]
            assert [a["id"] for a in seen] == [milestone.alert_id]
        for who in (unit, district):
            assert _code(await client.post(f"/v1/alerts/{milestone.alert_id}/ack", headers=who)) == (403, "forbidden.ack")
        acked = await client.post(f"/v1/alerts/{milestone.alert_id}/ack", headers=office)
        assert acked.status_code == 200 and acked.json()["acked_by"] == "office"


async def test_snapshot_ids_from_the_url_are_checked_before_any_query(broker, database_url, tmp_path, monkeypatch):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker")
    monkeypatch.setenv("QM_STATE_DIR", str(tmp_path))
    app = aggregation(AggregationSettings(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, DATABASE_URL=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://aggregation") as client:
            office = bearer(await auth.issue_token(app.state.pool, "office", "office"))
            for bad in ("a%00b", "x" * 300, "0" * 32):
                answer = await client.get(f"/v1/report/circular/snapshots/{bad}", headers=office)
                assert _code(answer) == (404, "not_found.snapshot"), (bad, answer.text)
                answer = await client.get(f"/v1/report/circular/snapshots/{bad}/figures/activities", headers=office)
                assert _code(answer) == (404, "not_found.snapshot"), (bad, answer.text)
