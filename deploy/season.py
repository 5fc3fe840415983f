"""Which campaign and clock `qm run` opens when none is configured: the current campaign on the 2022
schedule (September, returns due into October), or the next one once this year's final return is
due, on the real clock. The 2022 campaign stays the demo's (`qm run --demo`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from shared.refdata import Campaign, load_campaign

SCHEDULE = "campaign-2022.yaml"


def _shift(value, source: int, target: int):
    """Every date of a parsed campaign file moved from year `source` to `target`; counts stay."""
    if isinstance(value, date):  # datetimes too
        return value.replace(year=value.year + target - source)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value.replace(str(source), str(target))  # the title: 2022年... becomes 2027年...
        return parsed.replace(year=parsed.year + target - source).isoformat()
    if isinstance(value, dict):
        return {k: v if k in ("milestones", "exempt") else _shift(v, source, target) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, source, target) for v in value]
    return value


def schedule_for(year: int) -> dict:
    """The 2022 campaign file with every date (and its title) moved to `year`."""
    raw = yaml.safe_load(resources.files("shared.data").joinpath(SCHEDULE).read_text(encoding="utf-8"))
    shifted = _shift(raw, int(raw["year"]), year)
    shifted["year"] = year
    return shifted


def campaign_year(today: datetime) -> int:
    """This year's campaign until its final return is due, then next year's."""
    final_due = max(p.due_at for p in load_campaign(None).periods)
    this_year_due = final_due.replace(year=today.year)
    return today.year if today <= this_year_due else today.year + 1


@dataclass(frozen=True)
class Season:
    """The campaign file the services get, and how to say what is running."""

    campaign_file: Path | None
    campaign: Campaign
    clock: str

    def describe(self, now: datetime) -> list[str]:
        c = self.campaign
        local = now.astimezone(ZoneInfo(c.timezone))
        if local.date() < c.starts_on:
            when = f"opens in {(c.starts_on - local.date()).days} days"
        elif local.date() <= c.ends_on:
            when = f"running, day {(local.date() - c.starts_on).days + 1}"
        else:
            when = "window closed, final returns due"
        return [
            f"{c.title_zh} ({c.year}): {c.starts_on} to {c.ends_on}, {when}",
            f"{self.clock}; now {local:%Y-%m-%d %H:%M} {c.timezone}",
        ]


def choose(state_dir: Path, now: datetime, env: dict[str, str], demo: bool = False) -> tuple[Season, dict[str, str]]:
    """The season to run and the environment the services need for it; what the user set wins,
    and the demo replays the packaged 2022 campaign."""
    start, speed = env.get("QM_CLOCK_START"), env.get("QM_CLOCK_SPEED", "1")
    clock = f"campaign clock from {start} at x{speed}" if start else "real clock" + (f" at x{speed}" if speed != "1" else "")
    if demo or env.get("QM_CAMPAIGN_FILE"):
        path = None if demo else Path(env["QM_CAMPAIGN_FILE"])
        return Season(path, load_campaign(path), clock), {}
    year = campaign_year(now)
    path = (state_dir / f"campaign-{year}.yaml").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Written by `qm run`: the 2022 schedule moved to {year}. Set QM_CAMPAIGN_FILE to run another.\n"
        + yaml.safe_dump(schedule_for(year), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return Season(path, load_campaign(path), clock), {"QM_CAMPAIGN_FILE": str(path)}
