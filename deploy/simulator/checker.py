"""Compares the live system with the expected outcome of a plan, section by section, and says how they differ."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from deploy.simulator.expected import DIMENSIONS, Expected, scaled
from deploy.simulator.player import Endpoints, PlayResult

SECTIONS = ("totals", "returns", "alerts", "rejections", "milestones", "submissions")
ACCEPTED_LABELS = ("submit", "correction", "withdrawal", "fix")
MAX_LINES = 12


@dataclass
class Section:
    name: str
    status: str = "ok"  # ok, differs, unavailable (the endpoint does not exist yet or refused us)
    lines: list[str] = field(default_factory=list)

    def differ(self, line: str) -> None:
        self.status = "differs"
        self.lines.append(line)


@dataclass
class CheckReport:
    sections: dict[str, Section]

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.sections.values())

    def differing(self) -> list[str]:
        return [n for n, s in self.sections.items() if s.status == "differs"]

    def render(self) -> str:
        out = []
        for s in self.sections.values():
            out.append(f"{s.name:<12} {s.status}")
            out.extend(f"    {line}" for line in s.lines[:MAX_LINES])
            if len(s.lines) > MAX_LINES:
                out.append(f"    ... and {len(s.lines) - MAX_LINES} more")
        return "\n".join(out)


class _Unavailable(Exception):
    pass


async def _get(client: httpx.AsyncClient, url: str, token: str, **params) -> dict:
    answer = await client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    if answer.status_code in (401, 403, 404, 405, 501):
        raise _Unavailable(f"GET {url.split('//', 1)[-1]} answered {answer.status_code}")
    answer.raise_for_status()
    return answer.json()


def _diff_groups(section: Section, where: str, expected: dict[str, dict[str, int]], actual: dict[str, dict]) -> None:
    for group in sorted(set(expected) | set(actual)):
        want = expected.get(group, {})
        got = {m: scaled(m, v) for m, v in (actual.get(group) or {}).items() if v}
        for metric in sorted(set(want) | set(got)):
            if want.get(metric, 0) != got.get(metric, 0):
                section.differ(f"{where} {group} {metric}: expected {want.get(metric, 0)}, found {got.get(metric, 0)}")


async def check_once(
    expected: Expected, played: PlayResult, endpoints: Endpoints, office_token: str, unit_tokens: dict[str, str],
    sections: tuple[str, ...] = SECTIONS,
) -> CheckReport:
    if played.burst:  # timing was not the plan's: only what does not depend on it is checked
        sections = tuple(s for s in sections if s in ("totals", "rejections", "submissions"))
    report = CheckReport({name: Section(name) for name in sections})
    async with httpx.AsyncClient(timeout=30) as client:
        for name in sections:
            section = report.sections[name]
            try:
                await _CHECKS[name](section, expected, played, endpoints, office_token, unit_tokens, client)
            except _Unavailable as exc:
                section.status, section.lines = "unavailable", [str(exc)]
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:  # a broken answer is a difference, not a crash
                section.differ(f"cannot read it: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return report


async def _totals(section, expected, played, endpoints, office, _units, client) -> None:
    city = await _get(client, f"{endpoints.aggregation}/v1/totals", office)
    _diff_groups(section, "city", expected.totals["city"], {"all": city["totals"]})
    for dim in DIMENSIONS[1:]:
        answer = await _get(client, f"{endpoints.aggregation}/v1/totals", office, by=dim)
        _diff_groups(section, dim, expected.totals[dim], answer["groups"])


async def _returns(section, expected, played, endpoints, office, _units, client) -> None:
    answer = await _get(client, f"{endpoints.notification}/v1/returns/status", office)
    actual = {(r["unit_id"], r["period_id"]): r["status"] for r in answer["returns"]}
    for key in sorted(set(expected.returns) | set(actual)):
        want, got = expected.returns.get(key), actual.get(key)
        if want == "overdue" and got == "escalated":
            continue  # the stream's RETURN shows escalation as its own state; both mean unfiled past due
        if want != got:
            section.differ(f"{key[0]} {key[1]}: expected {want}, found {got}")


async def _alerts_of(client, endpoints, office, kind: str) -> list[dict]:
    found, cursor = [], None
    while True:
        page = await _get(client, f"{endpoints.notification}/v1/alerts", office, kind=kind, limit=1000,
                          **({"cursor": cursor} if cursor else {}))
        found += page["alerts"]
        if not (cursor := page.get("next")):
            return found


async def _alerts(section, expected, played, endpoints, office, _units, client) -> None:
    actual: Counter = Counter()
    for kind in ("reminder", "overdue", "escalation"):
        actual.update((a["kind"], a["unit_id"], a["period_id"]) for a in await _alerts_of(client, endpoints, office, kind))
    for key in sorted(set(expected.alerts) | set(actual), key=str):
        if expected.alerts.get(key, 0) != actual.get(key, 0):
            section.differ(f"{key[0]} for {key[1]} {key[2]}: expected {expected.alerts.get(key, 0)}, found {actual.get(key, 0)}")


async def _rejections(section, expected, played, endpoints, office, _units, client) -> None:
    actual = Counter(a["unit_id"] for a in await _alerts_of(client, endpoints, office, "rejection"))
    for unit in sorted(set(expected.rejections) | set(actual)):
        if expected.rejections.get(unit, 0) != actual.get(unit, 0):
            section.differ(f"rejection alerts for {unit}: expected {expected.rejections.get(unit, 0)}, found {actual.get(unit, 0)}")


async def _milestones(section, expected, played, endpoints, office, _units, client) -> None:
    found = len(await _alerts_of(client, endpoints, office, "milestone"))
    low, high = expected.milestones
    if not low <= found <= high:
        section.differ(f"milestone alerts: expected {low}" + (f" to {high}" if high != low else "") + f", found {found}")


async def _submissions(section, expected, played, endpoints, office, units, client) -> None:
    wanted = [s for s in played.sent if s.submission_id and s.action.kind == "reports"
              and (s.action.label in ACCEPTED_LABELS or not s.action.valid)]
    semaphore = asyncio.Semaphore(16)

    async def one(sent):
        async with semaphore:
            return sent, await _get(client, f"{endpoints.submission}/v1/submissions/{sent.submission_id}", units[sent.action.unit_id])

    for sent, answer in await asyncio.gather(*(one(s) for s in wanted)):
        states = {(r["report_id"], r["version"]): r["state"] for r in answer["reports"]}
        for body in sent.action.reports:
            state = states.get((body["report_id"], body["version"]))
            ok = state == "rejected" if not sent.action.valid else state in ("accepted", "accepted_with_warnings")
            if not ok:
                want = "rejected" if not sent.action.valid else "accepted"
                section.differ(f"{sent.action.label} {body['report_id']} v{body['version']}: expected {want}, found {state}")


_CHECKS = {"totals": _totals, "returns": _returns, "alerts": _alerts, "rejections": _rejections,
           "milestones": _milestones, "submissions": _submissions}


async def check(
    expected: Expected, played: PlayResult, endpoints: Endpoints, office_token: str, unit_tokens: dict[str, str],
    timeout: float = 60, sections: tuple[str, ...] = SECTIONS,
) -> CheckReport:
    """Check until every available section agrees (the pipeline is asynchronous) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        report = await check_once(expected, played, endpoints, office_token, unit_tokens, sections)
        if not report.differing() or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.5)
