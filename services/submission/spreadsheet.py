"""Reports from a spreadsheet, for units without a system: the template (xlsx, header row = API field
names, a second sheet explaining each column in Chinese) and the rows of an upload (xlsx or csv)
turned into reports, or into issues naming the field; one bad row never blocks the others."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.events import ActivityReport
from shared.refdata import FOCUS_AREAS, metrics

MAX_ROWS = 500
FIELDS = ["report_id", "version", "title", "focus_area", "started_on", "ended_on", "district_id", "withdrawn"]
EXPLAIN = {
    "report_id": "报告编号：本单位自定的活动编号（1-64 个字符）；留空则自动生成（同一文件重传时生成的编号不变）。",
    "version": "版本号：整数，默认为 1；更正已报活动时填写更高的版本号。",
    "title": "活动标题（1-200 个字符），将显示在大屏上。",
    "focus_area": "重点领域，填写英文代码：" + "，".join(f"{k}（{v}）" for k, v in FOCUS_AREAS.items()) + "。",
    "started_on": "开始日期，格式 YYYY-MM-DD，须在活动月内。",
    "ended_on": "结束日期（可选），格式 YYYY-MM-DD，不得早于开始日期。",
    "district_id": "活动所在区的编号（可选），默认为本单位所在区。",
    "withdrawn": "填 true 表示撤回该报告（须同时填写更高的版本号），否则留空。",
}
_REPORT = TypeAdapter(ActivityReport)
_INTEGER = re.compile(r"-?\d+")


def columns() -> list[str]:
    return FIELDS + list(metrics())


def template() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "reports"
    sheet.append(columns())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    guide = book.create_sheet("说明")
    guide.append(["列名", "说明"])
    for name in FIELDS:
        guide.append([name, EXPLAIN[name]])
    for m in metrics().values():
        kind = "整数" if m.value_type == "count" else "最多两位小数"
        guide.append([m.metric_id, f"指标：{m.label_zh}（{m.unit_zh}），{kind}，不小于 0；不适用可留空。"])
    guide.column_dimensions["A"].width = 28
    guide.column_dimensions["B"].width = 90
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class BadFile(ValueError):
    """The upload is not a spreadsheet we can read (the whole upload is refused)."""


def read_table(filename: str, content: bytes) -> list[list[Any]]:
    """Rows of cells from an xlsx (first sheet) or a csv (UTF-8, with or without BOM)."""
    if content[:2] == b"PK" or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            raise BadFile(f"not a readable xlsx file ({type(exc).__name__})") from None
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("a CSV file must be UTF-8") from None
    return list(csv.reader(io.StringIO(text)))


@dataclass
class Row:
    row: int  # the spreadsheet's row number (the header is row 1)
    report_id: str | None
    report: ActivityReport | None = None
    issues: list[dict] = field(default_factory=list)


def _issue(field_name: str, zh: str, en: str) -> dict:
    return {"code": "schema", "field": field_name, "severity": "error", "message_zh": zh, "message_en": en}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if not isinstance(value, (int, float)) else str(value)


def _number(value: Any) -> int | Decimal:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    text = _text(value)
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number


def parse(table: list[list[Any]], upload_hash: str) -> list[Row]:
    """One Row per non-empty data row; a row without report_id gets one derived from the file's
    content and the row number, so the same file uploaded again names the same reports."""
    if not table:
        raise BadFile("the file is empty; start from the template")
    headers = [(_text(h) if not _blank(h) else "") for h in table[0]]
    known_metrics = metrics()
    unknown = [h for h in headers if h and h not in FIELDS and h not in known_metrics]
    if "title" not in headers or "started_on" not in headers:
        raise BadFile("the header row must hold the API field names (title, started_on, ...); start from the template")
    data = [(n, line) for n, line in enumerate(table[1:], start=2) if any(not _blank(c) for c in line)]
    if len(data) > MAX_ROWS:
        raise BadFile(f"at most {MAX_ROWS} rows per upload (this one has {len(data)})")
    rows = []
    for number, line in data:
        cells = {h: line[i] for i, h in enumerate(headers) if h and i < len(line) and not _blank(line[i])}
        rows.append(_row(number, cells, upload_hash, unknown))
    return rows


def _row(number: int, cells: dict[str, Any], upload_hash: str, unknown: list[str]) -> Row:
    report_id = _text(cells["report_id"]) if "report_id" in cells else f"xl-{upload_hash[:10]}-{number}"
    row = Row(number, report_id)
    row.issues.extend(_issue(h, f"未知列“{h}”：请使用模板中的列名。", f"Unknown column '{h}'; use the template's column names.") for h in unknown if h in cells)
    body: dict[str, Any] = {"report_id": report_id, "version": 1, "metrics": {}}
    for name, value in cells.items():
        if name in FIELDS and name not in ("report_id",):
            body[name] = _text(value)
        elif name in metrics():
            try:
                body["metrics"][name] = _number(value)
            except ValueError:
                row.issues.append(_issue(name, f"指标“{name}”须为数字。", f"Metric '{name}' must be a number."))
    if isinstance(body["version"], str) and _INTEGER.fullmatch(body["version"]):
        body["version"] = int(body["version"])
    if "withdrawn" in body:
        body["withdrawn"] = body["withdrawn"].lower() in ("true", "1", "yes", "是")
    try:
        report = _REPORT.validate_python(body)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            loc = [str(p) for p in err["loc"]]
            name = loc[-1] if loc and loc[0] == "metrics" else (loc[0] if loc else "row")
            row.issues.append(_issue(name, f"“{name}”{_zh(err['type'])}", f"{name}: {err['msg']}"))
        return row
    if not row.issues:
        row.report = report
    return row


_ZH = {
    "missing": "为必填项。",
    "date_from_datetime_parsing": "须为有效日期，格式 YYYY-MM-DD。",
    "date_parsing": "须为有效日期，格式 YYYY-MM-DD。",
    "date_type": "须为有效日期，格式 YYYY-MM-DD。",
    "literal_error": "须为以下之一：" + "、".join(FOCUS_AREAS) + "。",
    "string_too_short": "不能为空。",
    "string_too_long": "过长。",
    "int_type": "须为整数。",
    "greater_than_equal": "不能小于下限。",
    "text.nul": "不能包含空字符。",
}


def _zh(error_type: str) -> str:
    return _ZH.get(error_type, "不符合要求，请对照模板“说明”工作表。")


def upload_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
