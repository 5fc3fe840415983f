"""The console in headless Chromium, walking people's paths against the whole stack: the office
finds an overdue unit, acks its alert and sends a report back; the unit sees why, corrects it and
the totals move back; a unit without a system fills the form and uploads a spreadsheet."""
from __future__ import annotations

import io
from pathlib import Path

import httpx
from openpyxl import Workbook

from tests.e2e.console_stack import start
from tests.helpers import issue_token, report, wait_until

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
HOSTILE = "<img src=x onerror=alert(1)>质量开放日"


def spreadsheet(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=token]", token)
    page.click("button[name=signin]")
    page.wait_for_load_state()
    assert token not in page.url


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_office_unit_and_spreadsheet_paths(tmp_path, pg_server, chromium):
    stack, broker = start(tmp_path / "stack", pg_server, {})
    try:
        walk(stack, chromium)
    finally:
        stack.stop()
        broker.stop()


def walk(stack, chromium) -> None:
    db = stack.database_url
    office, pudong, samr = issue_token(db, "office", "office"), issue_token(db, "pudong"), issue_token(db, "samr")
    base = stack.url("console")
    api = lambda service, token: httpx.Client(base_url=stack.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=10)  # noqa: E731
    sent = api("submission", pudong).post("/v1/reports", json={"reports": [
        report("p1", title=HOSTILE, metrics={"activities": 1, "participants": 40, "enterprises": 2}),
    ]})
    assert sent.status_code == 202, sent.text
    totals = lambda: api("aggregation", office).get("/v1/totals").json()["totals"]  # noqa: E731
    wait_until(lambda: totals().get("participants") == 40, what="p1 counted")
    wait_until(lambda: api("notification", office).get("/v1/alerts", params={"kind": "overdue"}).json()["alerts"], what="overdue alerts")

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    requests: list[str] = []
    dialogs: list[str] = []

    def new_page():
        page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        return page

    # The office: overview, the overdue unit on the board, its alert acknowledged, the report sent back.
    page = new_page()
    page.goto(f"{base}/signin")
    shot(page, "01-signin")
    sign_in(page, base, office)
    assert page.url.endswith("/overview")
    page.wait_for_selector("#completeness tr[data-period=W1]")
    shot(page, "02-overview")
    page.goto(f"{base}/returns")
    first = page.locator("#board tbody tr").first
    overdue_unit = first.get_attribute("data-unit")
    assert "late" in first.get_attribute("class") and first.locator("td[data-status=overdue]").count() >= 1
    shot(page, "03-returns-board")
    page.click(f"#board tr[data-unit='{overdue_unit}'] td.contacts a")
    page.fill("input[name=email]", "duty@example.org")
    page.fill("input[name=reason]", "新的值班邮箱")
    shot(page, "03b-contacts")
    page.click("button[name=save_contacts]")
    assert "duty@example.org" in page.locator(f"#board tr[data-unit='{overdue_unit}'] td.contacts").inner_text()
    page.goto(f"{base}/alerts?kind=overdue&unit_id={overdue_unit}")
    row = page.locator("#alerts tbody tr").first
    alert_id = row.get_attribute("data-alert")
    row.locator("button[name=ack]").click()
    page.wait_for_selector(f"tr[data-alert='{alert_id}'] .acked-by")
    assert "office" in page.locator(f"tr[data-alert='{alert_id}'] .acked-by").inner_text()
    shot(page, "04-alerts")
    page.goto(f"{base}/reports?unit_id=pudong")
    assert page.locator("#reports tr[data-report=p1] td.title").inner_text() == HOSTILE  # text, never markup
    shot(page, "05-reports")
    page.click("#reports tr[data-report=p1] a")
    page.click("details.send-back summary")
    page.fill("textarea[name=reason]", "参与人数与签到表不符，请核实")
    page.click("button[name=send_back]")
    page.wait_for_selector("article.version[data-state=sent_back] .reason")
    shot(page, "06-report-sent-back")
    wait_until(lambda: "participants" not in totals(), what="the sent-back report leaves the totals")
    page.goto(f"{base}/exports")
    shot(page, "07-exports")
    page.goto(f"{base}/audit")
    assert page.locator("#audit tr[data-action='report.send_back']").count() == 1
    assert page.locator("#audit tr[data-action='alert.ack']").count() == 1
    assert page.locator("#audit tr[data-action='contacts.change']").count() == 1
    shot(page, "08-audit")

    # The unit: sees the reason, corrects the report; the totals move back.
    page = new_page()
    sign_in(page, base, pudong)
    wait_until(lambda: page.reload() or page.locator("#notices [data-kind=sent_back]").count(), what="sent_back notice")
    assert "参与人数与签到表不符" in page.locator("#notices [data-kind=sent_back]").inner_text()
    assert page.locator("#my-reports tr[data-report=p1] td.state").inner_text() == "已退回修改"
    shot(page, "09-unit-home")
    page.click("#my-reports tr[data-report=p1] a:text('更正')")
    assert page.input_value("input[name=version]") == "2" and page.input_value("input[name='metrics.participants']") == "40"
    page.fill("input[name='metrics.participants']", "36")
    page.click("button[name=submit]")
    page.wait_for_selector("#submission tr[data-report=p1]")
    wait_until(lambda: totals().get("participants") == 36, what="the corrected version counts")
    page.goto(f"{base}/unit/reports/p1")
    page.wait_for_selector("article.version[data-version='1'][data-state=sent_back]")
    shot(page, "10-unit-report-history")

    # A unit without a system: the form, then a spreadsheet with one bad row.
    page = new_page()
    sign_in(page, base, samr)
    page.goto(f"{base}/unit/reports/new")
    page.fill("input[name=title]", "质量月宣传咨询日")
    page.select_option("select[name=focus_area]", "publicity")
    page.fill("input[name=started_on]", "2022-09-08")
    page.fill("input[name='metrics.activities']", "1")
    page.fill("input[name='metrics.participants']", "120")
    shot(page, "11-report-form")
    page.click("button[name=submit]")
    page.wait_for_selector("#submission tbody tr")
    wait_until(lambda: totals().get("participants") == 156, what="the form's report counted")
    page.reload()
    shot(page, "11b-submission")
    upload = tmp_path_file = SHOTS.parent / "console-upload.xlsx"
    tmp_path_file.write_bytes(spreadsheet([
        ["report_id", "title", "focus_area", "started_on", "activities", "participants"],
        ["x-1", "质量讲座", "exchange", "2022-09-09", 1, 30],
        ["x-2", "质量义诊", "service", "2022-09-31", 1, 20],
        ["x-3", "质量展览", "publicity", "2022-09-10", 1, 50],
    ]))
    page.goto(f"{base}/unit/import")
    page.set_input_files("input[name=file]", str(upload))
    page.click("button[name=upload]")
    page.wait_for_selector("#import-result tbody tr")
    assert page.locator("#import-result tr[data-status=accepted]").count() == 2
    bad = page.locator("#import-result tr[data-status=rejected]")
    assert bad.get_attribute("data-row") == "3" and bad.locator(".issue").first.get_attribute("data-field") == "started_on"
    shot(page, "12-import")
    wait_until(lambda: totals().get("participants") == 236, what="the two good rows counted")
    upload.unlink()

    # The wall screen: the ticker carries the send-back; a milestone reached live is celebrated.
    page = new_page()
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{stack.url('aggregation')}/screen?token={office}")
    page.wait_for_selector("#ticker-track [data-kind=sent_back]", state="attached")
    big = api("submission", pudong).post("/v1/reports", json={"reports": [
        report("p9", title="质量月万人签名", metrics={"activities": 1, "participants": 10000}),
    ]})
    assert big.status_code == 202, big.text
    page.wait_for_selector("#celebrate.on", timeout=30000)
    assert "10000" in page.inner_text("#celebrate-text").replace(",", "") or "万" in page.inner_text("#celebrate-text")
    page.wait_for_selector("#ticker-track [data-kind=milestone]", state="attached")
    shot(page, "13-screen-milestone")
    page.wait_for_selector("#celebrate.on", state="hidden", timeout=20000)
    shot(page, "14-screen-ticker")

    assert not dialogs, dialogs
    mine = (base, stack.url("aggregation"))
    assert all(url.startswith(mine) for url in requests), [u for u in requests if not u.startswith(mine)]
