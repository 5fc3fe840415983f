"""The whole pipeline as processes: reports over HTTP from several units become exact totals and
the draft circular's figures, a signed snapshot and its Word file."""
from __future__ import annotations

import io
import random
from collections import Counter, defaultdict

import docx
import httpx

from services.aggregation.circular import phrase
from tests.helpers import issue_token, report, wait_until

UNITS = ["pudong", "huangpu", "samr", "assoc-quality", "group-metro"]
FOCUS = ["publicity", "exchange", "improvement", "supervision", "service"]


def test_thousand_reports_from_several_units_add_up(make_stack, database_url):
    stack = make_stack()
    rng = random.Random(2022)
    tokens = {u: issue_token(database_url, u) for u in UNITS}
    expected: Counter = Counter()
    by_unit: dict[str, Counter] = defaultdict(Counter)
    by_focus: dict[str, Counter] = defaultdict(Counter)
    batches: dict[str, list[dict]] = defaultdict(list)
    for i in range(1000):
        unit = UNITS[i % len(UNITS)]
        metrics = {"activities": 1, "participants": rng.randint(5, 400), "enterprises": rng.randint(1, 5)}
        focus = rng.choice(FOCUS)
        if focus == "supervision":
            metrics["inspections"] = rng.randint(1, 9)
        metrics["participants"] = max(metrics["participants"], metrics["enterprises"])
        batches[unit].append(report(f"{unit}-{i}", focus_area=focus, started_on=f"2022-09-{1 + i % 28:02d}", metrics=metrics))
        expected.update(metrics)
        by_unit[unit].update(metrics)
        by_focus[focus].update(metrics)

    with httpx.Client(base_url=stack.url("submission"), timeout=30) as client:
        for unit, reports in batches.items():
            for start in range(0, len(reports), 100):
                answer = client.post(
                    "/v1/reports",
                    json={"reports": reports[start : start + 100]},
                    headers={"Authorization": f"Bearer {tokens[unit]}"},
                )
                assert answer.status_code == 202, answer.text
                assert answer.json()["status_url"].startswith("/v1/submissions/")

    office = issue_token(database_url, "office", "office")
    with httpx.Client(base_url=stack.url("aggregation"), timeout=10, headers={"Authorization": f"Bearer {office}"}) as client:
        totals = wait_until(
            lambda: (t := client.get("/v1/totals").json())["totals"] == dict(expected) and t,
            timeout=60,
            what="city totals equal to the sums posted",
        )
        assert totals["as_of"] is not None and totals["lag_s"] is not None
        units = client.get("/v1/totals", params={"by": "unit"}).json()["groups"]
        assert units == {u: dict(c) for u, c in by_unit.items()}
        focus = client.get("/v1/totals", params={"by": "focus_area"}).json()["groups"]
        assert focus == {f: dict(c) for f, c in by_focus.items()}

        draft = client.get("/v1/report/circular").json()
        assert draft["figures"] == {m: phrase(m, v) for m, v in expected.items()}
        assert f"全市共开展各类活动{phrase('activities', expected['activities'])}" in draft["text"]
        unit_view = client.get("/v1/report/circular", headers={"Authorization": f"Bearer {tokens['pudong']}"})
        assert unit_view.status_code == 403 and unit_view.json()["issues"][0]["code"] == "forbidden.role"

        # The office signs: a snapshot, its Word file and a figure traced to the reports behind it.
        taken = client.post("/v1/report/circular/snapshots")
        assert taken.status_code == 201 and taken.json()["reports"] == 1000
        word = client.get(taken.json()["docx_url"])
        assert any(draft["headline"] in p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs)
        figure = client.get(f"{taken.json()['url']}/figures/participants").json()
        assert figure["value"] == expected["participants"] == sum(r["value"] for r in figure["reports"])
