"""The broker goes away and comes back empty (Tansu forgets everything): the submission service
keeps accepting, and every report and return then reaches the new broker exactly once."""
from __future__ import annotations

from collections import Counter

import pytest

from shared import auth, topics
from tests.helpers import report
from tests.integration.test_submission_api import bearer, eventually, published_everything, read_topic, running


async def test_broker_outage_loses_nothing_and_publishes_each_event_once(broker, database_url):
    if isinstance(broker, str):
        pytest.skip("needs the embedded broker, to stop and start it")
    async with running(broker, database_url) as svc:
        c, pool = svc.client, svc.pool
        token = await auth.issue_token(pool, "minhang")
        h = bearer(token)
        before = await c.post("/v1/reports", json={"reports": [report(f"before-{i}") for i in range(50)]}, headers=h)
        assert before.status_code == 202
        assert (await c.post("/v1/returns", json={"period_id": "W1"}, headers=h)).status_code == 202
        await eventually(lambda: published_everything(svc), what="first batch published")

        broker.stop()
        for n in range(3):
            during = await c.post("/v1/reports", json={"reports": [report(f"during-{n}-{i}") for i in range(100)]}, headers=h)
            assert during.status_code == 202, during.text
        assert (await c.post("/v1/returns", json={"period_id": "W2"}, headers=h)).status_code == 202
        assert not await published_everything(svc)

        broker.start()  # same port, empty: no topics, no records
        # The new rows can only go out once the reset replay has run, so this also waits for it.
        await eventually(lambda: published_everything(svc), timeout=60, what="everything published after the outage")

        expected = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM submission_reports")}
        assert len(expected) == 350
        arrived = Counter(e.event_id for e in await read_topic(broker, topics.REPORTS_SUBMITTED))
        assert set(arrived) == expected and set(arrived.values()) == {1}
        returns = await read_topic(broker, topics.RETURNS_FILED)
        assert sorted(r.period_id for r in returns) == ["W1", "W2"]

        exposition = (await c.get("/metrics")).text
        assert "qm_submission_requeued_total" in exposition
