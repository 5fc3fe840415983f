"""The console's pure pieces and the shared export helper: board order and filters, completeness,
the report form's mapping to the API, spreadsheet rows, and files that read back as they were written."""
from __future__ import annotations

from services.console import views
from services.submission import spreadsheet
from shared import export
from shared.refdata import units

RETURNS = [
    {"unit_id": "samr", "period_id": "W1", "status": "filed_on_time"},
    {"unit_id": "pudong", "period_id": "W1", "status": "overdue"},
    {"unit_id": "huangpu", "period_id": "W1", "status": "filed_late"},
    {"unit_id": "samr", "period_id": "W2", "status": "not_due"},
    {"unit_id": "pudong", "period_id": "W2", "status": "overdue"},
    {"unit_id": "huangpu", "period_id": "W2", "status": "overdue"},
]


def test_board_puts_units_with_more_overdue_returns_first_and_filters():
    periods, rows = views.board(RETURNS, units(), None, None)
    assert periods == ["W1", "W2"]
    assert [r["unit_id"] for r in rows] == ["pudong", "huangpu", "samr"]
    assert [r["unit_id"] for r in views.board(RETURNS, units(), "huangpu", None)[1]] == ["huangpu"]
    assert [r["unit_id"] for r in views.board(RETURNS, units(), None, "bureau")[1]] == ["samr"]


def test_completeness_counts_each_period_and_its_rate():
    found = views.completeness(RETURNS)
    assert found["W1"] == {"expected": 3, "filed_on_time": 1, "filed_late": 1, "overdue": 1, "not_yet": 0, "rate": 0.6667}
    assert found["W2"]["not_yet"] == 1 and found["W2"]["rate"] == 0.0


def test_report_form_fields_are_the_api_fields_and_an_empty_id_is_generated():
    form = {"report_id": "", "title": "开放日", "focus_area": "service", "started_on": "2022-09-08", "ended_on": "",
            "district_id": "pudong", "metrics.activities": "2", "metrics.profit_added": "1.25", "metrics.participants": ""}
    report = views.report_from_form(form)
    assert report["report_id"].startswith("web-") and report["version"] == 1
    assert report["metrics"] == {"activities": 2, "profit_added": 1.25}
    assert report["district_id"] == "pudong" and "ended_on" not in report
    again = views.form_from_report({**report, "report_id": "r1"}, 2)
    assert again["version"] == "2" and again["metrics.activities"] == "2"
    issues = [{"field": "reports.0.metrics.participants.int", "message_zh": "须为整数"},
              {"field": "reports.0.metrics.participants.decimal", "message_zh": "须为小数"}]
    assert views.issue_by_field(issues) == {"metrics.participants": ["须为整数"]}


def test_spreadsheet_rows_name_the_field_of_each_issue_and_ids_follow_the_file():
    table = [["title", "focus_area", "started_on", "activities", "colour"],
             ["好活动", "publicity", "2022-09-07", 3, None],
             ["坏活动", "publicity", "2022-09-07", "三", "red"],
             [None, None, None, None, None]]
    rows = spreadsheet.parse(table, "ab" * 32)
    assert [r.row for r in rows] == [2, 3]
    assert rows[0].report is not None and rows[0].report_id == "xl-ababababab-2"
    assert {i["field"] for i in rows[1].issues} == {"activities", "colour"} and rows[1].report is None


def test_csv_and_xlsx_read_back_as_written_with_chinese_headers():
    columns = [("unit_id", "单位"), ("acked", "已确认"), ("data", "详情"), ("value", "数值")]
    rows = [{"unit_id": "pudong", "acked": True, "data": {"k": [1]}, "value": 1.25}, {"unit_id": "samr", "acked": False, "data": None, "value": 3}]
    csv_body = export.to_csv(columns, rows)
    assert csv_body.startswith(b"\xef\xbb\xbf") and "单位 (unit_id)" in csv_body.decode("utf-8-sig").splitlines()[0]
    expected = [{"unit_id": "pudong", "acked": "true", "data": '{"k":[1]}', "value": "1.25"},
                {"unit_id": "samr", "acked": "false", "data": None, "value": "3"}]
    assert export.read_rows("csv", csv_body) == expected
    back = export.read_rows("xlsx", export.to_xlsx(columns, rows))
    assert [{**r, "acked": r["acked"].lower()} for r in back] == expected
