"""The console's APIs and pages against the whole stack: exports parse back to the JSON they export,
the spreadsheet import, the audit trail, and which pages each role may open."""
from __future__ import annotations

import asyncio
import io

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from docx import Document
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from deploy import cli
from shared import auth

from deploy.embedded import free_port
from shared.export import read_rows
from tests.e2e.console_stack import start
from tests.helpers import issue_token, report, wait_until
from tests.integration.test_notification_delivery import Mailbox

BY = (None, "district", "unit", "focus_area", "day")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory, pg_server, mailbox):
    workdir = tmp_path_factory.mktemp("console-api")
    contacts = workdir / "contacts.yaml"
    # A webhook nobody listens on: pudong's overdue alerts die after one attempt (a dead delivery to
    # retry); its e-mail goes to the test's SMTP server.
    contacts.write_text(
        "units:\n  pudong: {webhook: {url: 'http://127.0.0.1:9/hook', secret: 'abcdefghijklmnop'}, email: [ops@pudong.example]}\n"
    )
    stack, broker = start(workdir, pg_server, {
        "QM_NOTIFICATION_WEBHOOKS_FILE": str(contacts), "QM_NOTIFICATION_DELIVERY_MAX_ATTEMPTS": "1",
        "QM_NOTIFICATION_SMTP_HOST": "127.0.0.1", "QM_NOTIFICATION_SMTP_PORT": str(mailbox[1]),
    })
    try:
        tokens = {
            "office": issue_token(stack.database_url, "office", "office"),
            "district": issue_token(stack.database_url, "pudong", "district"),
            "pudong": issue_token(stack.database_url, "pudong"),
            "samr": issue_token(stack.database_url, "samr"),
            "viewer": issue_token(stack.database_url, "screen", "viewer"),
        }
        for unit, reports in (
            ("pudong", [report("p1", metrics={"activities": 2, "participants": 40, "enterprises": 3}, district_id="pudong"),
                        report("p2", focus_area="exchange", started_on="2022-09-06", metrics={"activities": 1, "profit_added": 1.25})]),
            ("samr", [report("s1", metrics={"activities": 5, "participants": 100})]),
        ):
            answer = httpx.post(f"{stack.url('submission')}/v1/reports", json={"reports": reports},
                                headers={"Authorization": f"Bearer {tokens[unit]}"})
            assert answer.status_code == 202, answer.text
        office = client(stack, "aggregation", tokens["office"])
        wait_until(lambda: office.get("/v1/totals").json()["totals"].get("activities") == 8, what="totals of the three reports")
        yield stack, tokens
    finally:  # also when setting up failed: no processes left behind
        stack.stop()
        broker.stop()


def client(stack, service: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=10)


def as_text(value) -> str | None:
    """A JSON value as our files write it (cells read back as text)."""
    import orjson

    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def parsed(answer: httpx.Response, fmt: str) -> list[dict]:
    rows = read_rows(fmt, answer.content)  # type: ignore[arg-type]
    if fmt == "xlsx":  # a spreadsheet keeps booleans as booleans
        rows = [{k: {"True": "true", "False": "false"}.get(v, v) if v is not None else None for k, v in r.items()} for r in rows]
    return rows


def check_file(answer: httpx.Response, fmt: str, stem: str) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv" if fmt == "csv" else "application/vnd.openxmlformats")
    assert f'filename="{stem}.{fmt}"' in answer.headers["content-disposition"]
    if fmt == "csv":
        assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens the Chinese as UTF-8


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_totals_exports_equal_the_json_for_every_by_and_role(env, fmt):
    stack, tokens = env
    for role in ("office", "district", "samr"):
        api = client(stack, "aggregation", tokens[role])
        for by in BY:
            params = {"by": by} if by else {}
            answer = api.get("/v1/totals", params={**params, "format": fmt})
            check_file(answer, fmt, f"totals-by-{by}" if by else "totals")
            rows = parsed(answer, fmt)
            as_json = api.get("/v1/totals", params=params).json()
            if by is None:
                assert len(rows) == 1
                assert {k: v for k, v in rows[0].items() if v is not None} == {k: as_text(v) for k, v in as_json["totals"].items()}
            else:
                groups = {r[by]: {k: v for k, v in r.items() if v is not None and k != by} for r in rows}
                assert groups == {g: {k: as_text(v) for k, v in m.items()} for g, m in as_json["groups"].items()}, (role, by)
    first = read_rows("csv", client(stack, "aggregation", tokens["office"]).get("/v1/totals", params={"format": "csv"}).content)
    header = client(stack, "aggregation", tokens["office"]).get("/v1/totals", params={"format": "csv"}).content.decode("utf-8-sig").splitlines()[0]
    assert "各类活动" in header and "(activities)" in header and first[0]["activities"] == "8"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_returns_alerts_and_reports_exports_equal_the_json(env, fmt):
    stack, tokens = env
    cases = [("notification", "/v1/returns/status", "returns", "returns-status"),
             ("notification", "/v1/alerts", "alerts", "alerts"),
             ("submission", "/v1/reports", "reports", "reports")]
    office = client(stack, "notification", tokens["office"])
    wait_until(lambda: office.get("/v1/alerts", params={"kind": "overdue"}).json()["alerts"], what="overdue alerts")
    for role in ("office", "district"):
        for service, path, key, stem in cases:
            api = client(stack, service, tokens[role])
            as_json = api.get(path).json()[key]
            answer = api.get(path, params={"format": fmt})
            check_file(answer, fmt, stem)
            rows = parsed(answer, fmt)
            expected = [{k: as_text(v) for k, v in row.items() if k in rows[0]} for row in as_json] if rows else []
            assert [{k: v for k, v in r.items()} for r in rows] == expected, (role, path)
            assert as_json, (role, path)
            if role == "district" and key != "alerts":
                assert {r["unit_id"] for r in as_json} == {"pudong"}


def make_xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_spreadsheet_template_and_import_one_bad_row_never_blocks_the_others(env):
    stack, tokens = env
    submission = client(stack, "submission", tokens["samr"])
    template = load_workbook(io.BytesIO(submission.get("/v1/reports/template.xlsx").content))
    header = [c.value for c in template.worksheets[0][1]]
    assert header[:7] == ["report_id", "version", "title", "focus_area", "started_on", "ended_on", "district_id"]
    assert {"activities", "participants", "profit_added"} <= set(header)
    guide = {r[0]: r[1] for r in template.worksheets[1].iter_rows(min_row=2, values_only=True)}
    assert set(guide) == set(header) and "开始日期" in guide["started_on"] and "参与人数" in guide["participants"]

    upload = make_xlsx([
        header,
        ["imp-1", 1, "导入活动一", "publicity", "2022-09-07", None, None, *[None] * (len(header) - 7)],
        ["imp-2", 1, "导入活动二", "nonsense", "2022-09-08", None, None, *[None] * (len(header) - 7)],
        [None, None, "导入活动三", "service", "2022-09-09", None, None, *[None] * (len(header) - 7)],
    ])
    row_of = {name: i for i, name in enumerate(header)}
    book = load_workbook(io.BytesIO(upload))
    book.active.cell(row=2, column=row_of["activities"] + 1, value=3)
    book.active.cell(row=4, column=row_of["activities"] + 1, value=2)
    out = io.BytesIO()
    book.save(out)
    upload = out.getvalue()

    answer = submission.post("/v1/reports/import", files={"file": ("reports.xlsx", upload)})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    by_row = {r["row"]: r for r in body["rows"]}
    assert by_row[2]["status"] == "accepted" and by_row[2]["report_id"] == "imp-1"
    assert by_row[3]["status"] == "rejected" and [i["field"] for i in by_row[3]["issues"]] == ["focus_area"]
    assert by_row[4]["status"] == "accepted" and by_row[4]["report_id"].startswith("xl-")

    again = submission.post("/v1/reports/import", files={"file": ("reports.xlsx", upload)})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true" and again.json() == body

    states = lambda: submission.get(body["status_url"]).json()["reports"]  # noqa: E731
    wait_until(lambda: all(r["state"] == "accepted" for r in states()), what="imported reports accepted")
    mine = {r["report_id"] for r in submission.get("/v1/reports").json()["reports"]}
    assert {"imp-1", by_row[4]["report_id"]} <= mine and "imp-2" not in mine

    csv_upload = "report_id,title,focus_area,started_on,activities\ncsv-1,表格活动,publicity,2022-09-10,1\ncsv-2,,publicity,2022-09-10,1\n"
    answer = submission.post("/v1/reports/import", files={"file": ("r.csv", csv_upload.encode("utf-8-sig"))})
    assert answer.status_code == 202 and [r["status"] for r in answer.json()["rows"]] == ["accepted", "rejected"]
    assert answer.json()["rows"][1]["issues"][0]["field"] == "title"
    too_many = "title,focus_area,started_on\n" + "活动,publicity,2022-09-10\n" * 501
    assert submission.post("/v1/reports/import", files={"file": ("r.csv", too_many.encode())}).status_code == 422
    assert client(stack, "submission", tokens["office"]).post(
        "/v1/reports/import", files={"file": ("r.csv", csv_upload.encode())}).status_code == 403


def console(stack, token: str | None) -> httpx.Client:
    browser = httpx.Client(base_url=stack.url("console"), timeout=10)
    if token:
        signed = browser.post("/signin", data={"token": token})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and token not in signed.headers["location"]
    return browser


def test_audit_trail_records_admin_actions_append_only_office_only(env):
    stack, tokens = env
    office_page = console(stack, tokens["office"])
    notification = client(stack, "notification", tokens["office"])
    alert = wait_until(lambda: notification.get("/v1/alerts", params={"kind": "overdue", "unit_id": "pudong"}).json()["alerts"])[0]
    assert office_page.post(f"/alerts/{alert['id']}/ack").status_code == 303
    changed = notification.put("/v1/contacts/samr", json={"email": ["qa@samr.example"], "reason": "新联系人"})
    assert changed.status_code == 200 and changed.json()["email"] == ["qa@samr.example"]
    dead = wait_until(lambda: notification.get("/v1/deliveries", params={"status": "dead"}).json()["deliveries"], what="a dead delivery")
    assert office_page.post(f"/deliveries/{dead[0]['delivery_id']}/retry").status_code == 303
    district = client(stack, "notification", tokens["district"])
    assert district.put("/v1/contacts/pudong", json={"email": []}).status_code == 403
    assert district.post(f"/v1/deliveries/{dead[0]['delivery_id']}/retry").status_code == 403

    runner, cli_env = CliRunner(), {"DATABASE_URL": stack.database_url}
    issued = runner.invoke(cli.app, ["units", "issue-token", "youth"], env=cli_env)
    assert issued.exit_code == 0, issued.output
    revoked = runner.invoke(cli.app, ["units", "revoke-token", "youth", "--token", issued.stdout.strip()], env=cli_env)
    assert revoked.exit_code == 0 and "revoked 1" in revoked.stdout

    audit = client(stack, "console", tokens["office"])
    entries = audit.get("/v1/audit").json()["entries"]
    youth_id = auth.token_id(issued.stdout.strip())
    by_cli = [(e["action"], e["actor_id"], e["actor_role"]) for e in entries if e["target"] == "youth"]
    assert by_cli == [("token.revoke", "cli", "operator"), ("token.issue", "cli", "operator")]
    assert [e["details"] for e in entries if e["target"] == "youth"] == [{"token_ids": [youth_id]}, {"role": "unit", "token_id": youth_id}]
    actions = {e["action"]: e for e in reversed(entries)}
    assert {"token.issue", "alert.ack", "contacts.change", "delivery.retry", "rules.change"} <= set(actions)
    office_id = [e for e in entries if e["action"] == "token.issue" and e["target"] == "office"][0]["details"]["token_id"]
    assert actions["alert.ack"]["actor_id"] == office_id and actions["alert.ack"]["actor_role"] == "office"
    assert actions["alert.ack"]["target"] == alert["id"]
    assert actions["contacts.change"]["reason"] == "新联系人" and actions["contacts.change"]["details"]["after"]["email"] == ["qa@samr.example"]
    assert actions["delivery.retry"]["target"] == dead[0]["delivery_id"]
    for role in ("district", "pudong"):
        assert client(stack, "console", tokens[role]).get("/v1/audit").status_code == 403
    rows = read_rows("csv", audit.get("/v1/audit", params={"format": "csv"}).content)
    assert [r["seq"] for r in rows] == [str(e["seq"]) for e in entries] and rows[0]["action"] == entries[0]["action"]

    async def tamper():
        conn = await asyncpg.connect(stack.database_url)
        try:
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("UPDATE audit_log SET reason = 'x'")
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()

    asyncio.run(tamper())


DESK_PAGES = ["/overview", "/returns", "/alerts", "/reports", "/reports/pudong/p1", "/exports"]
UNIT_PAGES = ["/unit", "/unit/reports/new", "/unit/import", "/unit/reports/p1"]


def test_each_role_sees_its_pages_and_no_others(env):
    stack, tokens = env
    anonymous = console(stack, None)
    for path in DESK_PAGES + UNIT_PAGES + ["/audit", "/"]:
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin", path
    refused = anonymous.post("/signin", data={"token": "qm_nope"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers

    office = console(stack, tokens["office"])
    for path in DESK_PAGES + ["/audit"]:
        page = office.get(path)
        assert page.status_code == 200, path
        assert "default-src 'none'" in page.headers["content-security-policy"]
    for path in UNIT_PAGES:
        assert office.get(path).status_code == 403, path
    board = office.get("/returns").text
    assert 'data-unit="samr"' in board and 'data-unit="pudong"' in board

    district = console(stack, tokens["district"])
    for path in DESK_PAGES:
        assert district.get(path).status_code == 200, path
    assert district.get("/audit").status_code == 403
    board = district.get("/returns").text
    assert 'data-unit="pudong"' in board and 'data-unit="samr"' not in board
    assert 's1' not in district.get("/reports").text and 'data-report="p1"' in district.get("/reports").text

    unit = console(stack, tokens["pudong"])
    for path in UNIT_PAGES:
        assert unit.get(path).status_code == 200, path
    for path in DESK_PAGES + ["/audit"]:
        assert unit.get(path).status_code == 403, path
    assert unit.post("/signout").status_code == 303 and unit.get("/unit").status_code == 303

    viewer = console(stack, tokens["viewer"])  # the wall screen's read-only token: no console page
    for path in ["/"] + DESK_PAGES + UNIT_PAGES + ["/audit", "/export/totals?format=csv"]:
        assert viewer.get(path).status_code == 403, path


def test_the_office_drafts_pins_and_downloads_the_circular_in_word_and_markdown(env):
    stack, tokens = env
    office = console(stack, tokens["office"])
    page = office.get("/circular")
    assert page.status_code == 200 and "据统计" in page.text and "尚未固定任何版本" in page.text
    word = office.get("/circular/file", params={"format": "docx"})
    assert word.status_code == 200 and word.headers["content-type"] == DOCX
    headline = client(stack, "aggregation", tokens["office"]).get("/v1/report/circular").json()["headline"]
    assert headline.startswith("据统计") and headline in page.text
    assert headline in "\n".join(p.text for p in Document(io.BytesIO(word.content)).paragraphs)

    pinned = office.post("/circular/snapshots")
    assert pinned.status_code == 303 and pinned.headers["location"] == "/circular"
    (snapshot,) = client(stack, "aggregation", tokens["office"]).get("/v1/report/circular/snapshots").json()["snapshots"]
    page = office.get("/circular").text
    assert f"snapshot_id={snapshot['snapshot_id']}" in page and "尚未固定任何版本" not in page
    markdown = office.get("/circular/file", params={"format": "md", "snapshot_id": snapshot["snapshot_id"]})
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert "据统计" in markdown.text
    assert office.get("/circular/file", params={"format": "md", "snapshot_id": "0" * 32}).status_code == 404
    assert office.get("/circular/file", params={"format": "pdf"}).status_code == 422

    for role in ("district", "pudong", "viewer"):
        assert console(stack, tokens[role]).get("/circular").status_code == 403, role


def test_send_back_takes_the_version_out_of_the_totals_and_tells_the_unit(env, mailbox):
    """Last in this module: it changes the totals the export tests read."""
    stack, tokens = env
    body = {"unit_id": "pudong", "reason": "参与人数与签到表不符"}
    for role in ("district", "pudong", "viewer"):
        answer = client(stack, "submission", tokens[role]).post("/v1/reports/p1/send-back", json=body)
        assert answer.status_code == 403, (role, answer.text)
    office = client(stack, "submission", tokens["office"])
    assert office.post("/v1/reports/nope/send-back", json=body).status_code == 404
    assert office.post("/v1/reports/p1/send-back", json={"unit_id": "pudong", "reason": ""}).status_code == 422
    answer = office.post("/v1/reports/p1/send-back", json=body)
    assert answer.status_code == 202 and answer.json() == {"unit_id": "pudong", "report_id": "p1", "version": 1, "state": "sent_back", "reason": body["reason"]}
    assert office.post("/v1/reports/p1/send-back", json=body).json() == answer.json()  # a repeat changes nothing

    totals = client(stack, "aggregation", tokens["office"])
    wait_until(lambda: totals.get("/v1/totals").json()["totals"].get("participants") == 100, what="p1 leaves the totals")
    history = client(stack, "submission", tokens["pudong"]).get("/v1/reports/p1").json()["versions"]
    assert [(v["version"], v["state"], v["reason"]) for v in history] == [(1, "sent_back", body["reason"])]
    assert office.get("/v1/reports/p1", params={"unit_id": "pudong"}).json()["versions"][0]["state"] == "sent_back"
    assert office.get("/v1/reports/p1").status_code == 422  # office and district name the unit

    notification = client(stack, "notification", tokens["pudong"])
    alert = wait_until(lambda: notification.get("/v1/alerts", params={"kind": "sent_back"}).json()["alerts"], what="sent_back alert")[0]
    assert alert["unit_id"] == "pudong" and body["reason"] in alert["message_zh"] and alert["data"]["reason"] == body["reason"]
    deliveries = client(stack, "notification", tokens["office"]).get("/v1/deliveries").json()["deliveries"]
    assert any(d["alert_id"] == alert["id"] and d["channel"] == "webhook" and d["recipient"] == "pudong" for d in deliveries)
    mail = wait_until(lambda: [m for to, m in mailbox[0].messages if m["X-QM-Delivery"] and "退回修改" in m["Subject"]], what="sent_back e-mail")
    assert body["reason"] in mail[0].get_content() and "ops@pudong.example" in mail[0]["To"]
    audit_entries = client(stack, "console", tokens["office"]).get("/v1/audit", params={"action": "report.send_back"}).json()["entries"]
    assert len(audit_entries) == 1 and audit_entries[0]["target"] == "pudong/p1" and audit_entries[0]["reason"] == body["reason"]

    fixed = report("p1", version=2, metrics={"activities": 2, "participants": 30, "enterprises": 3}, district_id="pudong")
    assert client(stack, "submission", tokens["pudong"]).post("/v1/reports", json={"reports": [fixed]}).status_code == 202
    wait_until(lambda: totals.get("/v1/totals").json()["totals"].get("participants") == 130, what="the corrected version counts")
    rejected_now = client(stack, "submission", tokens["pudong"]).get("/v1/reports/p1").json()["versions"]
    assert [v["state"] for v in rejected_now] == ["sent_back", "accepted"]
