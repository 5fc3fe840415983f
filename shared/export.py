"""Tables as files: one helper turns the rows an endpoint answers in JSON into CSV (UTF-8 with a BOM,
so Excel opens the Chinese) or xlsx (openpyxl), with Chinese headers and the field ids alongside."""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Literal, Mapping, Sequence
from urllib.parse import quote

import orjson
from fastapi.responses import Response

Format = Literal["json", "csv", "xlsx"]
Column = tuple[str, str]  # (field id as in the JSON, Chinese label)
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def header(column: Column) -> str:
    """`中文 (id)`: a reader gets the words, a program the id."""
    field_id, label = column
    return f"{label} ({field_id})"


def field_id(heading: str) -> str:
    """The id back from a header written by `header` (for whoever reads our files)."""
    return heading.rsplit("(", 1)[-1].rstrip(")").strip()


def _cell(value: Any, spreadsheet: bool) -> Any:
    if value is None:
        return "" if not spreadsheet else None
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if spreadsheet:
        return value
    return str(value)


def to_csv(columns: Sequence[Column], rows: Iterable[Mapping]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c[0]), False) for c in columns])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(columns: Sequence[Column], rows: Iterable[Mapping], sheet: str = "data") -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.append([header(c) for c in columns])
    for row in rows:
        ws.append([_cell(row.get(c[0]), True) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def respond(fmt: Format, name: str, columns: Sequence[Column], rows: Iterable[Mapping]) -> Response:
    """The file answer for `?format=csv|xlsx`: body, Content-Type and a file name (ASCII and UTF-8)."""
    rows = list(rows)
    body = to_csv(columns, rows) if fmt == "csv" else to_xlsx(columns, rows, name)
    filename = f"{name}.{fmt}"
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=MEDIA[fmt], headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


def read_rows(fmt: Literal["csv", "xlsx"], body: bytes) -> list[dict[str, str | None]]:
    """Parse a file written by `respond` back into rows keyed by field id (cells as text; None if empty)."""
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        cells = [[c if c != "" else None for c in line] for line in lines]
    else:
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        cells = [[None if c is None else str(c) for c in line] for line in ws.iter_rows(values_only=True)]
    if not cells:
        return []
    ids = [field_id(h or "") for h in cells[0]]
    return [dict(zip(ids, line)) for line in cells[1:]]


# `responses=` of a route with `?format=`: the JSON, or the same rows as a file (OpenAPI).
RESPONSES = {200: {"description": "JSON, or with `format=csv|xlsx` the same rows as a file", "content": {
    "application/json": {"schema": {"type": "object"}},
    "text/csv": {"schema": {"type": "string"}},
    MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
}}}
