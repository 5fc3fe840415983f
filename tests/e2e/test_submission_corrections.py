"""Corrections and withdrawals through every service as processes: the submission status follows
validation's verdicts, and the totals move by the difference, then drop the withdrawn report."""
from __future__ import annotations

import httpx

from tests.helpers import issue_token, report, wait_until


def test_correction_then_stale_version_then_withdrawal(make_stack, database_url):
    stack = make_stack()
    unit, office = issue_token(database_url, "baoshan"), issue_token(database_url, "office", "office")
    sub = httpx.Client(base_url=stack.url("submission"), timeout=30, headers={"Authorization": f"Bearer {unit}"})
    agg = httpx.Client(base_url=stack.url("aggregation"), timeout=10, headers={"Authorization": f"Bearer {office}"})

    def post(*reports) -> str:
        answer = sub.post("/v1/reports", json={"unit_id": "baoshan", "reports": list(reports)})
        assert answer.status_code == 202, answer.text
        return answer.json()["status_url"]

    def settled(url: str):
        reports = sub.get(url).json()["reports"]
        return all(r["state"] != "pending" for r in reports) and reports

    def participants_become(value: int):
        wait_until(lambda: agg.get("/v1/totals").json()["totals"].get("participants", 0) == value, timeout=60,
                   what=f"city participants == {value}")

    with sub, agg:
        first = post(report("forum", metrics={"activities": 1, "participants": 40}))
        assert [r["state"] for r in wait_until(lambda: settled(first), timeout=60, what="v1 verdict")] == ["accepted"]
        participants_become(40)

        post(report("forum", version=2, metrics={"activities": 1, "participants": 75}))
        participants_become(75)

        # A repeat of version 2 changes nothing (and says so); the new report in the same request counts.
        mixed = post(report("forum", version=2, metrics={"activities": 1, "participants": 999}),
                     report("training", metrics={"activities": 1, "participants": 5}))
        reports = wait_until(lambda: settled(mixed), timeout=60, what="verdicts of the mixed request")
        assert [(r["report_id"], r["state"]) for r in reports] == [("forum", "accepted"), ("training", "accepted")]
        assert reports[0]["issues"][0]["code"] == "version.stale"
        participants_become(80)

        post(report("forum", version=3, withdrawn=True))
        participants_become(5)
        assert agg.get("/v1/totals").json()["totals"]["activities"] == 1
