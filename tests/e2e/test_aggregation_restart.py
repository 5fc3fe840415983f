"""All services as processes: the live stream reflects an accepted report, and the totals stay
exact when the aggregation or the validation process is SIGKILLed mid-stream and when the broker
(which forgets everything) restarts mid-stream."""
from __future__ import annotations

import random
import signal
import time
from collections import defaultdict

import httpx
import orjson

from tests.helpers import issue_token, report, wait_until

UNITS = {"pudong": "pudong", "huangpu": "huangpu", "samr": None}
FOCUS = ["publicity", "exchange", "improvement", "supervision", "service"]


class Campaign:
    """Reports with corrections, withdrawals and repeats, and the totals they must add up to."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.final: dict[tuple[str, str], dict] = {}
        self.n = 0

    def batch(self, size: int) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = defaultdict(list)
        for _ in range(size):
            unit = self.rng.choice(list(UNITS))
            known = [k for k in self.final if k[0] == unit]
            if known and self.rng.random() < 0.3:
                key = self.rng.choice(known)
                previous = self.final[key]
                body = dict(previous, version=previous["version"] + 1,
                            metrics=dict(previous["metrics"], participants=self.rng.randint(1, 300)),
                            withdrawn=self.rng.random() < 0.3)
            else:
                self.n += 1
                key = (unit, f"{unit}-{self.n}")
                body = report(key[1], focus_area=self.rng.choice(FOCUS), started_on=f"2022-09-{self.rng.randint(1, 28):02d}",
                              metrics={"activities": 1, "participants": self.rng.randint(1, 300)})
                if body["focus_area"] == "supervision":  # validation requires inspections there
                    body["metrics"]["inspections"] = self.rng.randint(1, 9)
            self.final[key] = body
            out[unit].append(body)
            if self.rng.random() < 0.1:
                out[unit].append(body)  # the same version again: a no-op
        return out

    def expected(self) -> dict:
        city: dict = defaultdict(int)
        by: dict = {"unit": defaultdict(lambda: defaultdict(int)), "focus_area": defaultdict(lambda: defaultdict(int)),
                    "district": defaultdict(lambda: defaultdict(int)), "day": defaultdict(lambda: defaultdict(int))}
        for (unit, _), body in self.final.items():
            if body.get("withdrawn"):
                continue
            groups = {"unit": unit, "focus_area": body["focus_area"], "district": UNITS[unit], "day": body["started_on"]}
            for metric, value in body["metrics"].items():
                city[metric] += value
                for dim, group in groups.items():
                    if group:
                        by[dim][group][metric] += value
        return {"totals": dict(city), **{d: {g: dict(m) for g, m in groups.items()} for d, groups in by.items()}}


def post(stack, tokens, batches) -> None:
    with httpx.Client(base_url=stack.url("submission"), timeout=30) as client:
        for unit, reports in batches.items():
            # Order matters within a unit only for corrections, which the ledger sorts by version anyway.
            for start in range(0, len(reports), 50):
                answer = client.post("/v1/reports", json={"reports": reports[start : start + 50]},
                                     headers={"Authorization": f"Bearer {tokens[unit]}"})
                assert answer.status_code == 202, answer.text


def assert_exact(agg: httpx.Client, campaign: Campaign, timeout: float = 90) -> None:
    expected = campaign.expected()
    seen = []

    def exact() -> bool:
        seen.append(agg.get("/v1/totals").json())
        return seen[-1]["totals"] == expected["totals"]

    try:
        wait_until(exact, timeout=timeout, what="city totals exact")
    except AssertionError:
        raise AssertionError(f"expected {expected['totals']}, last seen {seen[-1]}") from None
    for dim in ("unit", "focus_area", "district", "day"):
        assert agg.get("/v1/totals", params={"by": dim}).json()["groups"] == expected[dim], dim


def sse_frames(response: httpx.Response):
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "" and fields:
            yield fields.get("event"), orjson.loads(fields["data"])
            fields = {}
        elif line and not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.lstrip()


def test_totals_stay_exact_across_aggregation_kill_and_broker_restart(make_stack, broker, database_url):
    stack = make_stack()
    tokens = {u: issue_token(database_url, u) for u in UNITS}
    office = issue_token(database_url, "office", "office")
    agg = httpx.Client(base_url=stack.url("aggregation"), timeout=10, headers={"Authorization": f"Bearer {office}"})
    campaign = Campaign(2022)

    # The live stream sees a new accepted report.
    with agg.stream("GET", "/v1/stream", timeout=httpx.Timeout(10, read=30)) as response:
        frames = sse_frames(response)
        event, snapshot = next(frames)
        assert event == "snapshot" and snapshot["totals"] == {}
        post(stack, tokens, campaign.batch(1))
        for event, data in frames:
            if event == "totals" and data["totals"].get("activities") == 1:
                assert data["latest"] and data["as_of"] and data["lag_s"] is not None
                break

    # SIGKILL the aggregation process, then the validation process, mid-stream; reports keep
    # coming while each is away, and each resumes from its committed offsets.
    for service in ("aggregation", "validation"):
        post(stack, tokens, campaign.batch(300))
        stack.stop_service(service, signal.SIGKILL)
        post(stack, tokens, campaign.batch(300))
        stack.start_service(service)
        stack.wait_ready(names=[service], timeout=60)
        assert_exact(agg, campaign)

    # The broker restarts mid-stream and forgets every topic, record and offset.
    post(stack, tokens, campaign.batch(300))
    broker.stop()
    broker.start()
    post(stack, tokens, campaign.batch(300))
    assert_exact(agg, campaign)
    stack.wait_ready(timeout=60)
    started = time.monotonic()
    post(stack, tokens, campaign.batch(50))
    assert_exact(agg, campaign, timeout=30)
    assert time.monotonic() - started < 30
    agg.close()
