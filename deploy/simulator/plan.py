"""The simulated campaign as data: (campaign, units, seed, scale) -> a timeline of actions. Pure.

Each action is what one unit's system sends at one campaign instant: a request of activity reports
(new ones, corrections, withdrawals, retried or stale duplicates, invalid ones) or a return.
Return filings keep `margin` away from every reminder, deadline and escalation instant, so a player
that sends a little late still produces exactly the outcome `expected.py` derives.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from deploy.simulator.profiles import DAILY_RATE, TITLES, activity_metrics, pick_focus, poisson, weekday_rhythm
from shared.refdata import Campaign, Unit

Label = Literal[
    "submit", "correction", "withdrawal", "retry", "stale", "invalid", "fix", "invalid_correction", "bad_request", "return"
]
Behaviour = Literal["prompt", "after_reminder", "late", "very_late", "never"]
RETURN_MARGIN = timedelta(hours=8)
REPORT_MARGIN = timedelta(days=3)
# Invalid reports: clear violations a validation rule must reject (they never count in totals).
INVALID_KINDS = ("ended_before_started", "participants_below_enterprises", "negative_count", "outside_window")


@dataclass(frozen=True)
class Action:
    """One request a unit's system sends at campaign instant `at`."""

    at: datetime
    unit_id: str
    label: Label
    reports: tuple[dict, ...] = ()
    period_id: str | None = None
    idempotency_key: str | None = None
    valid: bool = True  # False: the reports must be rejected (by validation, or by the API with 4xx)
    expect_http: tuple[int, ...] = (202,)
    margin: timedelta = REPORT_MARGIN  # how late `at` may slip without changing the expected outcome

    @property
    def kind(self) -> str:
        return "return" if self.label == "return" else "reports"


@dataclass(frozen=True)
class Plan:
    seed: int
    scale: float
    run_id: str
    actions: tuple[Action, ...]
    profiles: dict[str, str]  # unit_id -> diligent, sloppy, dropout, no_returns, silent
    behaviours: dict[tuple[str, str], Behaviour]  # (unit_id, period_id) -> how the return is filed
    campaign: Campaign

    @property
    def starts_at(self) -> datetime:
        return self.actions[0].at

    @property
    def settles_at(self) -> datetime:
        """After this campaign instant nothing more happens: every action sent, every escalation due."""
        last_escalation = max(p.due_at + self.campaign.escalation_after for p in self.campaign.periods)
        return max(self.actions[-1].at, last_escalation) + RETURN_MARGIN


def build_plan(
    campaign: Campaign, units: dict[str, Unit], seed: int = 2022, scale: float = 1.0, run_id: str | None = None,
    active_units: int | None = None,
) -> Plan:
    """The whole campaign, deterministic for a given seed, scale and run id; `active_units` keeps only
    that many units' systems playing (the others stay silent: every return of theirs is missed)."""
    return _Planner(campaign, units, seed, scale, run_id or f"s{seed}", active_units).build()


class _Planner:
    def __init__(self, campaign: Campaign, units: dict[str, Unit], seed: int, scale: float, run_id: str, active: int | None):
        self.campaign, self.units, self.seed, self.scale, self.run_id = campaign, units, seed, scale, run_id
        self.active = len(units) if active is None else active
        self.rng = random.Random(f"{seed}:{scale}:{run_id}")
        self.tz = ZoneInfo(campaign.timezone)
        self.actions: list[Action] = []
        self.requests = 0

    def at(self, day: date, hour: float) -> datetime:
        return datetime.combine(day, time(0), self.tz) + timedelta(hours=hour)

    def key(self, unit_id: str) -> str:
        self.requests += 1
        return f"{self.run_id}-{unit_id}-{self.requests}"

    def build(self) -> Plan:
        ids = sorted(self.units)
        order = ids[:]
        self.rng.shuffle(order)
        profiles = {u: "diligent" for u in ids}
        for u, p in zip(order, ["silent", "silent", "no_returns", "dropout"] + ["sloppy"] * 6):
            profiles[u] = p
        for u in order[self.active:]:
            profiles[u] = "silent"
        submitted = self.activities(ids, profiles)
        self.derived(submitted, profiles)
        behaviours = self.returns(ids, profiles, [u for u in order if profiles[u] == "sloppy"])
        actions = tuple(sorted(self.actions, key=lambda a: (a.at, a.unit_id, a.idempotency_key or "")))
        return Plan(self.seed, self.scale, self.run_id, actions, profiles, behaviours, self.campaign)

    def report(self, unit: Unit, n: int, day: date) -> dict:
        focus = pick_focus(self.rng, unit.kind)
        body = {
            "report_id": f"{self.run_id}-{unit.unit_id}-{n}",
            "version": 1,
            "title": f"{self.rng.choice(TITLES[focus])}（{unit.name_zh}）",
            "focus_area": focus,
            "started_on": day.isoformat(),
            "metrics": activity_metrics(self.rng, focus),
        }
        if self.rng.random() < 0.15:
            body["ended_on"] = min(day + timedelta(days=self.rng.randint(1, 3)), self.campaign.ends_on).isoformat()
        if unit.kind != "district" and self.rng.random() < 0.7:
            body["district_id"] = self.rng.choice(sorted(u.unit_id for u in self.units.values() if u.kind == "district"))
        return body

    def activities(self, ids: list[str], profiles: dict[str, str]) -> list[tuple[Action, dict]]:
        """Every unit's new reports, sent the way its system works: as they happen, daily, or next morning."""
        submitted: list[tuple[Action, dict]] = []
        days = [self.campaign.starts_on + timedelta(days=i) for i in range((self.campaign.ends_on - self.campaign.starts_on).days + 1)]
        for unit_id in ids:
            if profiles[unit_id] == "silent":
                continue
            unit = self.units[unit_id]
            style = self.rng.choice(("realtime", "daily", "next_morning"))
            n = 0
            for day in days:
                count = poisson(self.rng, DAILY_RATE.get(unit.kind, 0.5) * weekday_rhythm(day) * self.scale)
                bodies = []
                for _ in range(count):
                    n += 1
                    bodies.append(self.report(unit, n, day))
                if not bodies:
                    continue
                if style == "realtime":
                    groups = [((self.at(day, 10 + self.rng.uniform(0, 10))), [b]) for b in bodies]
                elif style == "daily":
                    groups = [(self.at(day, 19 + self.rng.uniform(0, 2)), bodies)]
                else:
                    groups = [(self.at(day + timedelta(days=1), 8.5 + self.rng.uniform(0, 2)), bodies)]
                for at, group in groups:
                    action = Action(at, unit_id, "submit", tuple(group), idempotency_key=self.key(unit_id))
                    self.actions.append(action)
                    submitted.extend((action, b) for b in group)
        return submitted

    def derived(self, submitted: list[tuple[Action, dict]], profiles: dict[str, str]) -> None:
        """Corrections, withdrawals, duplicates and invalid reports, each a few percent of the reports."""
        rng, total = self.rng, len(submitted)

        def share(rate: float, minimum: int) -> int:
            return max(minimum, round(rate * total))

        pool = submitted[:]
        rng.shuffle(pool)
        corrected = [pool.pop() for _ in range(min(len(pool), share(0.06, 3)))]
        withdrawn = [pool.pop() for _ in range(min(len(pool), share(0.02, 1)))]
        bad_corrections = [pool.pop() for _ in range(min(len(pool), share(0.005, 1)))]
        last = datetime.combine(self.campaign.ends_on + timedelta(days=5), time(18), self.tz)

        def later(action: Action, lo_h: float, hi_h: float) -> datetime:
            return min(action.at + timedelta(hours=rng.uniform(lo_h, hi_h)), last)

        for action, body in corrected:
            v2 = dict(body, version=2, metrics=dict(body["metrics"]))
            v2["metrics"]["participants"] = max(v2["metrics"]["enterprises"], round(v2["metrics"]["participants"] * rng.uniform(0.6, 1.4)))
            if rng.random() < 0.3:  # the unit got the date wrong: the report moves to another day
                day = date.fromisoformat(body["started_on"]) + timedelta(days=rng.choice((-1, 1)))
                day = min(max(day, self.campaign.starts_on), self.campaign.ends_on)
                v2["started_on"] = day.isoformat()
                v2.pop("ended_on", None)
            at = later(action, 20, 80)
            self.actions.append(Action(at, action.unit_id, "correction", (v2,), idempotency_key=self.key(action.unit_id)))
            if rng.random() < 0.5:  # a stale copy of version 1 arrives after the correction: a no-op
                stale_at = at + timedelta(hours=rng.uniform(2, 30))
                self.actions.append(Action(stale_at, action.unit_id, "stale", (body,), idempotency_key=self.key(action.unit_id), expect_http=(202, 409)))
        for action, body in withdrawn:
            gone = dict(body, version=2, withdrawn=True)
            self.actions.append(Action(later(action, 10, 100), action.unit_id, "withdrawal", (gone,), idempotency_key=self.key(action.unit_id)))
        for action, body in bad_corrections:
            bad = self.invalidate(dict(body, version=2, metrics=dict(body["metrics"])), rng.choice(INVALID_KINDS[:3]))
            self.actions.append(Action(later(action, 5, 50), action.unit_id, "invalid_correction", (bad,), idempotency_key=self.key(action.unit_id), valid=False))
        # A unit's system retries a request whose answer it missed: same key, same body.
        requests = [a for a in self.actions if a.label == "submit"]
        for action in rng.sample(requests, min(len(requests), share(0.03, 2))):
            self.actions.append(replace(action, at=action.at + timedelta(minutes=rng.uniform(2, 40)), label="retry"))
        # New reports that break a rule; half of them fixed the next day with a higher version.
        for i in range(share(0.02, len(INVALID_KINDS))):
            action, body = rng.choice(submitted)
            unit_id, kind = action.unit_id, INVALID_KINDS[i % len(INVALID_KINDS)]
            bad = self.invalidate(dict(body, report_id=f"{body['report_id']}-x{i}", metrics=dict(body["metrics"])), kind)
            at = later(action, 1, 30)
            self.actions.append(Action(at, unit_id, "invalid", (bad,), idempotency_key=self.key(unit_id), valid=False))
            if i % 2 == 0:
                fixed = dict(body, report_id=bad["report_id"], version=2)
                self.actions.append(Action(later(action, 26, 60), unit_id, "fix", (fixed,), idempotency_key=self.key(unit_id)))
        # A request the API itself refuses (a metric that does not exist): 422, nothing counts.
        action, body = rng.choice(submitted)
        unknown = dict(body, report_id=f"{body['report_id']}-u", metrics=dict(body["metrics"], quality_smiles=3))
        self.actions.append(Action(later(action, 1, 10), action.unit_id, "bad_request", (unknown,), idempotency_key=self.key(action.unit_id), valid=False, expect_http=(400, 422)))

    def invalidate(self, body: dict, kind: str) -> dict:
        m = body["metrics"]
        if kind == "ended_before_started":
            start = date.fromisoformat(body["started_on"])
            if start == self.campaign.starts_on:
                start += timedelta(days=1)
                body["started_on"] = start.isoformat()
            body["ended_on"] = (start - timedelta(days=1)).isoformat()
        elif kind == "participants_below_enterprises":
            m["enterprises"] = max(m.get("enterprises", 1), 2)
            m["participants"] = m["enterprises"] - 1
        elif kind == "negative_count":
            m["participants"] = -abs(m.get("participants", 10))
        else:  # outside_window
            body["started_on"] = (self.campaign.starts_on - timedelta(days=20)).isoformat()
            body.pop("ended_on", None)
        return body

    def returns(self, ids: list[str], profiles: dict[str, str], sloppy: list[str]) -> dict[tuple[str, str], Behaviour]:
        """When each unit files each return, never within RETURN_MARGIN of a reminder, deadline or escalation."""
        behaviours: dict[tuple[str, str], Behaviour] = {}
        # The first sloppy unit shows every kind of lateness, whatever the seed draws for the others.
        forced: dict[str, list[Behaviour]] = {sloppy[0]: ["late", "very_late", "after_reminder", "late", "prompt"]} if sloppy else {}
        last_due = max(p.due_at for p in self.campaign.periods)
        for unit_id in ids:
            for i, period in enumerate(self.campaign.periods):
                if not self.campaign.owes(unit_id, period.period_id):
                    continue
                behaviour = self.behaviour(profiles[unit_id], i, period.due_at == last_due)
                if unit_id in forced:
                    behaviour = forced[unit_id][i % len(forced[unit_id])]
                behaviours[(unit_id, period.period_id)] = behaviour
                at = self.filing_instant(period, behaviour)
                if at is not None:
                    self.actions.append(Action(at, unit_id, "return", period_id=period.period_id, idempotency_key=self.key(unit_id), margin=RETURN_MARGIN))
        return behaviours

    def behaviour(self, profile: str, index: int, last: bool) -> Behaviour:
        if profile in ("silent", "no_returns") or (profile == "dropout" and index >= 2):
            return "never"
        if profile == "sloppy":
            drawn = self.rng.choices(("prompt", "after_reminder", "late", "very_late"), weights=(3, 3, 3, 1))[0]
            return "late" if drawn == "very_late" and last else drawn  # keeps the run short after the final deadline
        return self.rng.choices(("prompt", "after_reminder"), weights=(17, 3))[0]

    def filing_instant(self, period, behaviour: Behaviour) -> datetime | None:
        due = period.due_at.astimezone(self.tz)
        reminder, escalation = due - self.campaign.reminder_before, due + self.campaign.escalation_after
        m = RETURN_MARGIN
        windows = {
            "prompt": (self.at(period.ends_on, 8), reminder - m),
            "after_reminder": (reminder + m, due - m),
            "late": (due + m, escalation - m),
            "very_late": (escalation + m, escalation + 3 * m),
        }
        if behaviour not in windows:
            return None
        lo, hi = windows[behaviour]
        if hi <= lo:
            lo, hi = reminder - 3 * m, reminder - 2 * m  # a schedule with little room: file early
        return lo + (hi - lo) * self.rng.random()
