"""Where each stage stands, read from the services' Prometheus counters: cheap enough to sample
every few tenths of a second without disturbing what is measured (no count(*) over big tables)."""
from __future__ import annotations

import httpx

# stage -> (service, counter, label filter): the count of reports that stage has finished.
STAGES = {
    "submission_relayed": ("submission", "qm_submission_published_total", {}),
    "validation_decided": ("validation", "qm_validation_verdicts_total", {}),
    "aggregation_stored": ("aggregation", "qm_aggregation_events_total", {"input": "verdict"}),
}


def _sum(exposition: str, name: str, labels: dict[str, str]) -> float:
    total = 0.0
    for line in exposition.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def stage_counts(client: httpx.AsyncClient, stack) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for stage, (service, name, labels) in STAGES.items():
        try:
            answer = await client.get(f"{stack.url(service)}/metrics")
            out[stage] = int(_sum(answer.text, name, labels))
        except httpx.HTTPError:
            out[stage] = None
    return out
