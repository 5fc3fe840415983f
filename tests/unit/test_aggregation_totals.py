"""Totals arithmetic under at-least-once delivery: corrections, withdrawals, duplicates,
redeliveries and rejections in shuffled order, against an independently computed ground truth."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.aggregation.totals import CITY, apply_verdicts, expand, sum_entries
from shared.events import ActivityReport, ReportValidated

UNITS = {"pudong": "pudong", "huangpu": "huangpu", "samr": None, "assoc-quality": None}
FOCUS = ["publicity", "exchange", "improvement", "supervision", "service"]
T0 = datetime(2022, 9, 1, 8, tzinfo=timezone.utc)


def verdict(unit, report_id, version, metrics, *, district, focus, day, withdrawn=False, verdict="accepted"):
    report = ActivityReport(
        report_id=report_id, version=version, title=f"活动 {report_id}", focus_area=focus,
        started_on=day, metrics=metrics, withdrawn=withdrawn,
    )
    return ReportValidated(
        received_at=1.0, campaign_time=T0 + timedelta(minutes=version), source_event_id=f"{unit}/{report_id}/{version}",
        submission_id="s", unit_id=unit, district_id=district, report=report, verdict=verdict,
    )


def history(rng: random.Random, n_reports: int = 300) -> list[ReportValidated]:
    """Every report gets 1-4 versions; some withdrawn, some rejected; district and day may change."""
    out = []
    for i in range(n_reports):
        unit = rng.choice(list(UNITS))
        for version in range(1, rng.randint(1, 4) + 1):
            district = rng.choice([UNITS[unit], "xuhui", None]) if UNITS[unit] else rng.choice([None, "jingan"])
            metrics = {"activities": 1, "participants": rng.randint(0, 500)}
            if rng.random() < 0.3:
                metrics["profit_added"] = Decimal(rng.randint(0, 10_000)) / 100
            out.append(verdict(
                unit, f"r{i}", version, metrics, district=district, focus=rng.choice(FOCUS),
                day=date(2022, 9, rng.randint(1, 30)), withdrawn=rng.random() < 0.15,
                verdict=rng.choice(["accepted"] * 6 + ["accepted_with_warnings", "rejected"]),
            ))
    return out


def ground_truth(verdicts: list[ReportValidated]) -> dict:
    """Independently: the highest accepted version of each report counts unless withdrawn."""
    final: dict = {}
    for v in verdicts:
        if v.verdict == "rejected":
            continue
        key = (v.unit_id, v.report.report_id)
        if key not in final or v.report.version > final[key].report.version:
            final[key] = v
    truth: dict = defaultdict(int)
    for v in final.values():
        if v.report.withdrawn:
            continue
        r = v.report
        groups = {"city": CITY, "unit": v.unit_id, "district": v.district_id, "focus_area": r.focus_area,
                  "day": r.started_on.isoformat()}
        scopes = [CITY, f"unit:{v.unit_id}"] + ([f"district:{v.district_id}"] if v.district_id else [])
        for metric, value in r.metrics.items():
            scaled = int(value * 100) if metric == "profit_added" else value
            for scope in scopes:
                for dim, group in groups.items():
                    if group:
                        truth[(scope, dim, group, metric)] += scaled
    return {k: v for k, v in truth.items() if v}


def fold_in_batches(stream, rng):
    ledger, totals = {}, defaultdict(int)
    i = 0
    while i < len(stream):
        n = rng.randint(1, 50)
        cells, _ = apply_verdicts(ledger, stream[i : i + n])
        for key, delta in expand(cells).items():
            totals[key] += delta
        i += n
    return {k: v for k, v in totals.items() if v}, ledger


def test_shuffled_redelivered_stream_gives_exact_totals_in_every_breakdown():
    rng = random.Random(5)
    verdicts = history(rng)
    delivered = verdicts + rng.sample(verdicts, len(verdicts) // 2)  # duplicates and redeliveries
    rng.shuffle(delivered)
    totals, ledger = fold_in_batches(delivered, rng)
    truth = ground_truth(verdicts)
    assert totals == truth
    assert sum_entries(ledger.values()) == truth  # the rebuild path agrees with the live path
    scopes = {k[0] for k in truth}
    assert {"all", "district:pudong", "district:xuhui", "unit:samr"} <= scopes


def test_redelivering_everything_again_changes_nothing():
    rng = random.Random(7)
    verdicts = history(rng, 50)
    ledger: dict = {}
    apply_verdicts(ledger, verdicts)
    cells, changed = apply_verdicts(ledger, list(reversed(verdicts)))
    assert cells == {} and changed == {}


def test_correction_moves_totals_by_the_difference_and_withdrawal_removes():
    ledger: dict = {}
    day = date(2022, 9, 3)
    v1 = verdict("pudong", "a", 1, {"participants": 100}, district="pudong", focus="publicity", day=day)
    v2 = verdict("pudong", "a", 2, {"participants": 130}, district="pudong", focus="publicity", day=day)
    v3 = verdict("pudong", "a", 3, {"participants": 130}, district="pudong", focus="publicity", day=day, withdrawn=True)
    assert apply_verdicts(ledger, [v1])[0] == {("pudong", "pudong", "publicity", "2022-09-03", "participants"): 100}
    assert apply_verdicts(ledger, [v2])[0] == {("pudong", "pudong", "publicity", "2022-09-03", "participants"): 30}
    assert apply_verdicts(ledger, [v1])[0] == {}  # stale
    assert apply_verdicts(ledger, [v3])[0] == {("pudong", "pudong", "publicity", "2022-09-03", "participants"): -130}


def test_a_report_with_no_district_counts_in_no_district_view():
    v = verdict("samr", "b", 1, {"activities": 1}, district=None, focus="service", day=date(2022, 9, 9))
    keys = set(sum_entries(apply_verdicts({}, [v])[1].values()))
    assert not any(k[0].startswith("district:") or k[1] == "district" for k in keys)
    assert (CITY, "city", CITY, "activities") in keys and ("unit:samr", "unit", "samr", "activities") in keys


def test_a_version_sent_back_leaves_the_totals_and_a_higher_one_counts_again():
    from services.aggregation.totals import apply_send_backs
    from shared.events import ReportSentBack

    now = datetime(2022, 9, 12, tzinfo=timezone.utc)

    def sent(version: int) -> ReportSentBack:
        return ReportSentBack(received_at=0.0, campaign_time=now, unit_id="pudong", report_id="r1", version=version,
                              reason="核实人数", sent_by="t")

    ledger: dict = {}
    cells, _ = apply_verdicts(ledger, [verdict("pudong", "r1", 1, {"participants": 40}, district="pudong", focus="publicity", day="2022-09-05")])
    assert sum(cells.values()) == 40
    assert apply_send_backs(ledger, [sent(2)]) == ({}, {})  # not the counted version: nothing
    cells, changed = apply_send_backs(ledger, [sent(1)])
    assert sum(cells.values()) == -40 and changed[("pudong", "r1")].withdrawn
    assert apply_send_backs(ledger, [sent(1)]) == ({}, {})  # redelivered: nothing more
    cells, _ = apply_verdicts(ledger, [verdict("pudong", "r1", 2, {"participants": 36}, district="pudong", focus="publicity", day="2022-09-05")])
    assert sum(cells.values()) == 36
