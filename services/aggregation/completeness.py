"""Reporting completeness: the latest state of every expected return, and the rates per period.

Pure: no framework. Expected returns are every unit of the reference data times every period the
campaign says it owes; anything else is ignored, so a rate can never exceed 1. Statuses only move
forward (not due -> overdue -> escalated -> filed), so the latest state is the highest rank, then
the newest event: a redelivered or reordered event changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from shared.refdata import Campaign

STATUS_RANK = {"not_due": 0, "overdue": 1, "escalated": 2, "filed_on_time": 3, "filed_late": 3}
Pair = tuple[str, str]  # (unit_id, period_id)


@dataclass(frozen=True)
class ReturnState:
    """The last known state of one expected return, as the notification service reported it."""

    unit_id: str
    period_id: str
    status: str
    due_at: datetime
    filed_at: datetime | None
    event_time: datetime  # campaign time of the event that set it

    def order(self) -> tuple[int, datetime]:
        return STATUS_RANK[self.status], self.event_time

    def to_dict(self) -> dict:
        return {
            "unit_id": self.unit_id,
            "period_id": self.period_id,
            "status": self.status,
            "due_at": self.due_at.isoformat(),
            "filed_at": self.filed_at.isoformat() if self.filed_at else None,
        }


def expected_returns(unit_ids: Iterable[str], campaign: Campaign) -> list[Pair]:
    return [(u, p.period_id) for p in campaign.periods for u in unit_ids if campaign.owes(u, p.period_id)]


def fold_states(board: dict[Pair, ReturnState], states: Iterable[ReturnState], expected: set[Pair]) -> dict[Pair, ReturnState]:
    """The states that are newer than the board's (the board is not changed: the caller stores them first)."""
    changed: dict[Pair, ReturnState] = {}
    for state in states:
        pair = (state.unit_id, state.period_id)
        if pair not in expected:
            continue  # never expected: not counted anywhere
        current = changed.get(pair) or board.get(pair)
        if current is not None and state.order() <= current.order():
            continue
        changed[pair] = state
    return changed


def return_rows(board: dict[Pair, ReturnState], pairs: Iterable[Pair], campaign: Campaign) -> list[dict]:
    """RETURN rows for `pairs`; a return with no status event yet shows as not_due."""
    rows = []
    for unit_id, period_id in pairs:
        state = board.get((unit_id, period_id))
        if state is not None:
            rows.append(state.to_dict())
        else:
            period = campaign.period(period_id)
            rows.append({
                "unit_id": unit_id, "period_id": period_id, "status": "not_due",
                "due_at": period.due_at.isoformat() if period else None, "filed_at": None,
            })
    return rows


def completeness(board: dict[Pair, ReturnState], pairs: Iterable[Pair]) -> dict[str, dict]:
    """Per period: expected, filed on time, filed late, overdue (incl. escalated), not yet, rate."""
    out: dict[str, dict] = {}
    for unit_id, period_id in pairs:
        row = out.setdefault(period_id, {"expected": 0, "filed_on_time": 0, "filed_late": 0, "overdue": 0, "not_yet": 0})
        row["expected"] += 1
        state = board.get((unit_id, period_id))
        status = state.status if state else "not_due"
        if status in ("filed_on_time", "filed_late"):
            row[status] += 1
        elif status in ("overdue", "escalated"):
            row["overdue"] += 1
        else:
            row["not_yet"] += 1
    for row in out.values():
        row["rate"] = round((row["filed_on_time"] + row["filed_late"]) / row["expected"], 4)
    return out


def next_deadline(campaign: Campaign, now: datetime) -> dict | None:
    upcoming = [p for p in campaign.periods if p.due_at > now]
    if not upcoming:
        return None
    first = min(upcoming, key=lambda p: p.due_at)
    return {"period_id": first.period_id, "due_at": first.due_at.isoformat()}
