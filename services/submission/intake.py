"""What a request must be before it is accepted: request models, limits, versions, body hashes."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.events import ActivityReport, Issue
from shared.refdata import metrics

MAX_REPORTS = 500
MAX_VERSION = 2**31 - 1  # versions are stored as PostgreSQL int
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class ReportsRequest(BaseModel):
    """Body of `POST /v1/reports`; `unit_id`, if sent, must be the token's own unit."""

    model_config = ConfigDict(extra="forbid")

    unit_id: str | None = None
    reports: Annotated[list[ActivityReport], Field(min_length=1, max_length=MAX_REPORTS)]


class ReturnRequest(BaseModel):
    """Body of `POST /v1/returns`; `unit_id`, if sent, must be the token's own unit."""

    model_config = ConfigDict(extra="forbid")

    unit_id: str | None = None
    period_id: Annotated[str, Field(max_length=32)]
    note: Annotated[str, Field(max_length=2000)] = ""


@dataclass(frozen=True)
class Problem:
    """A reason to refuse the whole request, before anything is stored."""

    code: str
    field: str | None
    message_en: str
    message_zh: str


def valid_idempotency_key(key: str) -> bool:
    return bool(_IDEMPOTENCY_KEY.fullmatch(key))


def body_hash(endpoint: str, raw: bytes) -> str:
    """Hash of what was asked: the same JSON with other spacing or key order is the same request."""
    canonical = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(endpoint.encode() + b"\0" + canonical).hexdigest()


def report_problems(reports: list[ActivityReport]) -> list[Problem]:
    """Problems the gate refuses outright (the rest is validation's to judge, report by report)."""
    known = metrics()
    out: list[Problem] = []
    for i, r in enumerate(reports):
        if "\x00" in r.report_id:
            out.append(Problem("schema", f"reports.{i}.report_id", "report_id must not contain NUL characters.", "report_id 不能包含空字符。"))
        if r.version > MAX_VERSION:
            out.append(Problem("schema", f"reports.{i}.version", f"version must be at most {MAX_VERSION}.", f"version 不能大于 {MAX_VERSION}。"))
        out.extend(
            Problem("metric.unknown", f"reports.{i}.metrics.{m}", f"Unknown metric '{m}'; see metrics.csv for the list.", f"未知指标“{m}”，请查阅指标清单。")
            for m in r.metrics
            if m not in known
        )
    return out


def newest_in_batch(reports: list[ActivityReport]) -> dict[str, int]:
    """report_id -> position of its highest version in this batch (the first, if repeated); the
    other positions of that report_id are stale whatever the database holds."""
    best: dict[str, int] = {}
    for i, r in enumerate(reports):
        j = best.get(r.report_id)
        if j is None or r.version > reports[j].version:
            best[r.report_id] = i
    return best


def stale_issue(report: ActivityReport) -> dict:
    return Issue(
        code="version.stale",
        field="version",
        severity="warning",
        message_en=(
            f"Version {report.version} of report '{report.report_id}' is not higher than a version already "
            "accepted; it was recorded but changed nothing. Send a higher version to correct the report."
        ),
        message_zh=f"报告“{report.report_id}”的版本 {report.version} 不高于已接收的版本，已记录但未产生任何变化。如需更正，请提交更高的版本号。",
    ).model_dump()
