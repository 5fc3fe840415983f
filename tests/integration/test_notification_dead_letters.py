"""A record any service dead-letters reaches the office as one `dead_letter` alert (redelivery and
a second copy raise nothing more), naming where the record was, not what it held."""
from __future__ import annotations

import time


from shared import auth, topics
from shared.events import DeadLettered, encode
from tests.helpers import eventually
from tests.integration.test_notification_deadlines import before_any_deadline


async def test_every_dead_letter_is_one_office_alert(broker, database_url, tmp_path):
    async with before_any_deadline(broker, database_url, tmp_path) as (app, client):
        office = {"Authorization": f"Bearer {await auth.issue_token(app.state.pool, 'office', 'office')}"}
        letters = [
            (topics.VALIDATION_DEAD_LETTERS, DeadLettered(source_topic=topics.REPORTS_SUBMITTED.name, partition=1, offset=7,
                                                          reason="handler failed 5 times", raw='{"title": "secret"}', dead_at=time.time())),
            (topics.DEAD_LETTERS["aggregation"], DeadLettered(source_topic=topics.REPORTS_VALIDATED.name, partition=0, offset=3,
                                                              reason="undecodable", raw="garbage", dead_at=time.time())),
        ]
        producer = app.state.producer  # the service's own, already connected
        for _ in range(2):  # the same dead letters twice: a replay after a broker reset
            for spec, letter in letters:
                await (await producer.send(spec.name, encode(letter), key=letter.source_topic.encode()))

        async def raised():
            answer = await client.get("/v1/alerts", params={"kind": "dead_letter"}, headers=office)
            alerts = answer.json()["alerts"]
            return alerts if len(alerts) >= 2 else None

        await eventually(raised, timeout=60, what="two dead-letter alerts")

        async def all_read():
            return app.state.inbox.handled >= 2 * len(letters)

        await eventually(all_read, what="the copies read too")  # and they must not add alerts
        alerts = (await client.get("/v1/alerts", params={"kind": "dead_letter"}, headers=office)).json()["alerts"]
        assert sorted(a["data"]["service"] for a in alerts) == ["aggregation", "validation"]
        for alert in alerts:
            assert alert["unit_id"] is None and alert["data"]["recipients"] == ["office"]
            assert "secret" not in str(alert) and "garbage" not in str(alert)
        by_service = {a["data"]["service"]: a for a in alerts}
        assert by_service["validation"]["data"]["offset"] == 7
        assert "qm.reports.submitted.v1/1@7" in by_service["validation"]["message_en"]
