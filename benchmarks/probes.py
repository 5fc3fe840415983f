"""Where each stage stands, read from the services' Prometheus counters: cheap enough to sample
every few tenths of a second without disturbing what is measured (no count(*) over big tables)."""
from __future__ import annotations

import httpx

from shared import topics

# stage -> (service, candidates): the count of reports that stage has finished, from the first
# counter the service exposes (the shared inbox's, or a service's own where it has no inbox).
_HANDLED = "qm_inbox_records_total"
STAGES = {
    "submission_relayed": ("submission", [("qm_submission_published_total", {})]),
    "validation_decided": ("validation", [(_HANDLED, {"topic": topics.REPORTS_SUBMITTED.name, "outcome": "handled"}),
                                          ("qm_validation_verdicts_total", {})]),
    "aggregation_stored": ("aggregation", [(_HANDLED, {"topic": topics.REPORTS_VALIDATED.name, "outcome": "handled"}),
                                           ("qm_aggregation_events_total", {"input": "verdict"})]),
}


def _sum(exposition: str, name: str, labels: dict[str, str]) -> float | None:
    total, found = 0.0, False
    for line in exposition.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total, found = total + float(value), True
    return total if found else None


async def stage_counts(client: httpx.AsyncClient, stack) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for stage, (service, candidates) in STAGES.items():
        out[stage] = None
        try:
            text = (await client.get(f"{stack.url(service)}/metrics")).text
        except httpx.HTTPError:
            continue
        for name, labels in candidates:
            if (value := _sum(text, name, labels)) is not None:
                out[stage] = int(value)
                break
    return out


async def commits(database_url: str) -> int:
    """Transactions committed in the database so far (pg_stat_database): read before and after a step."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await conn.close()
