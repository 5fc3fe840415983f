"""Two campaigns on one database: the 2023 aggregation neither counts nor drafts 2022's reports
(even with the same report ids), its circular compares with 2022, and 2022 reads as before."""
from __future__ import annotations

from datetime import date

import yaml

from deploy.season import schedule_for
from shared import topics
from tests import circular_2022
from tests.integration.test_aggregation_service import configure, running, send, tokens, until


def in_2023(verdict, extra_activities: int = 0):
    figures = dict(verdict.report.metrics)
    if "activities" in figures:
        figures["activities"] += extra_activities
    report = verdict.report.model_copy(update={"started_on": date(2023, 9, 5), "metrics": figures})
    return verdict.model_copy(update={"report": report, "campaign_time": verdict.campaign_time.replace(year=2023)})


async def test_a_2023_campaign_on_the_2022_database_stays_apart(monkeypatch, broker, database_url, tmp_path):
    settings_2022 = configure(monkeypatch, broker, database_url, tmp_path)
    toks = await tokens(database_url)
    office = {"Authorization": f"Bearer {toks['office']}"}

    async def totals(client):
        return (await client.get("/v1/totals", headers=office)).json()["totals"]

    async with running(settings_2022) as (app, client):
        await send(settings_2022, topics.REPORTS_VALIDATED, circular_2022.verdicts())
        await until(lambda: totals(client), lambda t: t.get("activities") == 1032, "2022 totals")
        taken_2022 = (await client.post("/v1/report/circular/snapshots", headers=office)).json()["snapshot_id"]

    # The next year: a new campaign file, a new (empty) broker, the same database.
    broker.stop()
    broker.start()
    campaign_file = tmp_path / "campaign-2023.yaml"
    campaign_file.write_text(yaml.safe_dump(schedule_for(2023), allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("QM_CAMPAIGN_FILE", str(campaign_file))
    settings_2023 = configure(monkeypatch, broker, database_url, tmp_path)
    # Each district held 10 more activities (160 in all) and every report id is reused.
    verdicts_2023 = [in_2023(v, 10 if v.report.report_id == "month" else 0) for v in circular_2022.verdicts()]
    async with running(settings_2023) as (app, client):
        assert (await totals(client)) == {}
        drafted = (await client.get("/v1/report/circular", headers=office)).json()
        assert drafted["year"] == 2023 and drafted["values"] == {}
        assert (await client.get("/v1/report/circular/snapshots", headers=office)).json() == {"snapshots": []}
        missing = await client.get(f"/v1/report/circular/snapshots/{taken_2022}", headers=office)
        assert missing.status_code == 404

        await send(settings_2023, topics.REPORTS_VALIDATED, verdicts_2023)
        current = await until(lambda: totals(client), lambda t: t.get("activities") == 1192, "2023 totals")
        assert current["participants"] == 196_500  # not 2022's added in
        drafted = (await client.get("/v1/report/circular", headers=office)).json()
        assert "全市共开展各类活动近1200场（较上年增长16%）" in drafted["headline"]
        assert "参加企业1万余家（与上年持平）" in drafted["headline"]
        taken_2023 = (await client.post("/v1/report/circular/snapshots", headers=office)).json()
        assert taken_2023["campaign"] == 2023 and taken_2023["reports"] == len(circular_2022.rows())
        pinned = (await client.get(f"/v1/report/circular/snapshots/{taken_2023['snapshot_id']}", headers=office)).json()
        assert pinned["comparison"]["activities"] == "较上年增长16%"

    monkeypatch.delenv("QM_CAMPAIGN_FILE")
    async with running(configure(monkeypatch, broker, database_url, tmp_path)) as (app, client):
        await until(lambda: totals(client), lambda t: t.get("activities") == 1032, "2022 totals again")
        listed = (await client.get("/v1/report/circular/snapshots", headers=office)).json()["snapshots"]
        assert [s["snapshot_id"] for s in listed] == [taken_2022]
        drafted = (await client.get("/v1/report/circular", headers=office)).json()
        assert drafted["comparison"] is None and "全市共开展各类活动1000多场，" in drafted["headline"]
