"""Returns filed over HTTP reach the notification service as processes: the set clock decides
on time or late, and alerts follow."""
from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from shared.refdata import load_campaign
from tests.helpers import issue_token, wait_until

DUE_W1 = load_campaign().period("W1").due_at


def test_returns_filed_over_http_are_on_time_or_late_by_the_campaign_clock(make_stack, database_url):
    stack = make_stack(env={"QM_CLOCK_START": (DUE_W1 + timedelta(hours=1)).isoformat(), "QM_CLOCK_SPEED": "1"})
    unit = {"Authorization": f"Bearer {issue_token(database_url, 'xuhui')}"}
    office = {"Authorization": f"Bearer {issue_token(database_url, 'office', 'office')}"}
    with httpx.Client(base_url=stack.url("notification"), timeout=10) as notification:
        clock = notification.get("/v1/clock").json()
        assert clock["speed"] == 1.0 and datetime.fromisoformat(clock["now"]) > DUE_W1

        def status(period_id):
            rows = notification.get("/v1/returns/status", params={"period_id": period_id}, headers=office).json()["returns"]
            return next((r for r in rows if r["unit_id"] == "xuhui"), None)

        wait_until(lambda: (s := status("W1")) and s["status"] == "overdue", what="W1 overdue for xuhui")
        with httpx.Client(base_url=stack.url("submission"), timeout=10) as submission:
            for period_id in ("W1", "final"):
                answer = submission.post("/v1/returns", json={"period_id": period_id}, headers=unit)
                assert answer.status_code == 202, answer.text
        late = wait_until(lambda: (s := status("W1")) and s["status"] == "filed_late" and s, what="W1 filed late")
        on_time = wait_until(lambda: (s := status("final")) and s["status"] == "filed_on_time" and s, what="final on time")
        assert late["filed_at"] > late["due_at"] and on_time["filed_at"] < on_time["due_at"]
        alerts = notification.get("/v1/alerts", params={"unit_id": "xuhui"}, headers=unit).json()["alerts"]
        assert [(a["kind"], a["period_id"]) for a in alerts] == [("overdue", "W1")]
