"""The circular over the aggregation service, a real broker and PostgreSQL: the 2022 data drafts
the 2022 circular; a snapshot pins it against later corrections; every figure traces to reports
that sum to it; the Word and Markdown files hold the headline sentence."""
from __future__ import annotations

import io
from decimal import Decimal

import docx

from services.aggregation.phrasing import labelled
from shared import topics
from shared.refdata import metrics, units
from tests import circular_2022
from tests.integration.test_aggregation_service import configure, running, send, tokens, until

HEADLINE_2022 = (
    "据统计，全市共开展各类活动1000多场，参加企业1万余家，参与人数近20万人次，"
    "各类报纸、杂志发表专题文章或新闻报道近200篇，发放“质量月”活动宣传海报和资料10万余份。"
)


def exact(value) -> Decimal:
    return Decimal(str(value))


async def test_the_2022_circular_drafted_pinned_traced_and_exported(monkeypatch, broker, database_url, tmp_path):
    settings = configure(monkeypatch, broker, database_url, tmp_path)
    toks = await tokens(database_url)
    office = {"Authorization": f"Bearer {toks['office']}"}
    async with running(settings) as (app, client):
        assert (await client.post("/v1/report/circular/snapshots", headers={"Authorization": f"Bearer {toks['unit']}"})).status_code == 403
        await send(settings, topics.REPORTS_VALIDATED, circular_2022.verdicts())

        async def live():
            return (await client.get("/v1/report/circular", headers=office)).json()

        drafted = await until(live, lambda d: d.get("headline") == HEADLINE_2022, "the 2022 headline")
        assert drafted["figures"] == {m: metrics()[m].phrase_2022 for m in metrics()}
        assert drafted["attributions"] == circular_2022.ATTRIBUTED_2022
        assert "市水务局组织开展水务建设工程质量月综合大检查，检查水务建设工程51个，整改指令34份。" in drafted["text"]
        assert drafted["snapshot"] is None and drafted["year"] == 2022

        taken = await client.post("/v1/report/circular/snapshots", headers=office)
        assert taken.status_code == 201, taken.text
        snapshot = taken.json()
        sid = snapshot["snapshot_id"]
        assert snapshot["reports"] == len(circular_2022.rows()) and snapshot["taken_by"] == "office"

        # Corrections after signing: the water authority's works go from 51 to 60, a district withdraws.
        water = next(r for r in circular_2022.rows() if r[0] == "water")
        corrected = circular_2022.verdict(*water[:5], {**water[5], "works_inspected": 60}, version=2)
        pudong = next(r for r in circular_2022.rows() if r[0] == "pudong" and r[1] == "month")
        withdrawn = circular_2022.verdict(*pudong, version=2, withdrawn=True)
        await send(settings, topics.REPORTS_VALIDATED, [corrected, withdrawn])
        await until(live, lambda d: d["figures"].get("works_inspected") == "60个", "the correction in the live draft")

        pinned = (await client.get(f"/v1/report/circular/snapshots/{sid}", headers=office)).json()
        assert pinned["headline"] == HEADLINE_2022
        assert pinned["figures"] == drafted["figures"] and pinned["text"] == drafted["text"]
        assert pinned["snapshot"]["snapshot_id"] == sid
        assert set(pinned) == set(drafted)  # the live draft's shape
        listed = (await client.get("/v1/report/circular/snapshots", headers=office)).json()["snapshots"]
        assert [s["snapshot_id"] for s in listed] == [sid]

        for metric_id in metrics():
            figure = (await client.get(f"/v1/report/circular/snapshots/{sid}/figures/{metric_id}", headers=office)).json()
            assert figure["phrase"] == metrics()[metric_id].phrase_2022
            assert sum(exact(r["value"]) for r in figure["reports"]) == exact(figure["value"]), metric_id
            assert all(r["version"] == 1 for r in figure["reports"])
        works = (await client.get(f"/v1/report/circular/snapshots/{sid}/figures/works_inspected", headers=office)).json()
        assert works == {"metric_id": "works_inspected", "value": 51, "phrase": "51个",
                         "reports": [{"unit_id": "water", "report_id": "works-check", "version": 1, "value": 51}]}
        missing = await client.get(f"/v1/report/circular/snapshots/{sid}/figures/nope", headers=office)
        assert missing.status_code == 404 and missing.json()["issues"][0]["code"] == "not_found.metric"
        missing = await client.get("/v1/report/circular/snapshots/nope", headers=office)
        assert missing.status_code == 404 and missing.json()["issues"][0]["code"] == "not_found.snapshot"

        word = await client.get(f"/v1/report/circular/snapshots/{sid}", params={"format": "docx"}, headers=office)
        assert word.status_code == 200 and word.headers["content-type"].startswith("application/vnd.openxmlformats")
        document = docx.Document(io.BytesIO(word.content))
        paragraphs = [p.text for p in document.paragraphs]
        assert any(HEADLINE_2022 in p for p in paragraphs)
        assert paragraphs[0] == pinned["issuer"] and pinned["title"] in paragraphs
        title = next(p for p in document.paragraphs if p.text == pinned["title"])
        assert title.runs[0]._element.rPr.rFonts.get(docx.oxml.ns.qn("w:eastAsia")) == "方正小标宋简体"
        body = next(p for p in document.paragraphs if HEADLINE_2022 in p.text)
        assert body.runs[0]._element.rPr.rFonts.get(docx.oxml.ns.qn("w:eastAsia")) == "仿宋_GB2312"

        markdown = await client.get(f"/v1/report/circular/snapshots/{sid}", params={"format": "md"}, headers=office)
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert HEADLINE_2022 in markdown.text and f"# {pinned['title']}" in markdown.text
        assert labelled("citizens_served", 21000) in markdown.text and units()["union"].name_zh in markdown.text
        live_word = await client.get("/v1/report/circular", params={"format": "docx"}, headers=office)
        assert any("60个" in p.text for p in docx.Document(io.BytesIO(live_word.content)).paragraphs)
        bad = await client.get("/v1/report/circular", params={"format": "pdf"}, headers=office)
        assert bad.status_code == 422 and bad.json()["issues"][0]["code"] == "schema"
