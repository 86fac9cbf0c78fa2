"""The reports written out: a table for the terminal (rich, when it is installed), CSV, JSON,
and an Excel workbook (openpyxl) with Vietnamese headers; ``period`` and ``units`` also as an
HTML page with charts (:mod:`lienthong.reports.html`, which reads more than one report).

JSON is a list of objects (one per officer, unit or dossier) or one object for ``period``, with
the records' field names as keys; CSV has those keys as its header row (``returned``: one line
per request); the table and the workbook have Vietnamese headers with the English beside.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from lienthong.errors import InvalidData
from lienthong.legaltime.clock import VN_TZ

FORMATS = ("table", "csv", "json", "xlsx")

#: key -> (Vietnamese header, English header)
HEADERS: dict[str, tuple[str, str]] = {
    "officer": ("Mã cán bộ", "officer"),
    "name": ("Họ tên / Tên", "name"),
    "unit": ("Mã đơn vị", "unit"),
    "unit_name": ("Đơn vị", "unit name"),
    "steps": ("Bước đã xử lý", "steps finished"),
    "early": ("Trước hạn", "early"),
    "on_time": ("Đúng hạn", "on time"),
    "late": ("Quá hạn", "late"),
    "late_on_arrival": ("Nhận đã quá hạn", "late on arrival"),
    "overdue": ("Từng quá hạn", "went overdue"),
    "late_minutes": ("Số phút quá hạn", "late minutes"),
    "escalations": ("Bước được báo cáo lên", "escalations received"),
    "late_dossiers": ("Hồ sơ trễ do đơn vị", "late dossiers caused"),
    "late_dossier_minutes": ("Phút trễ hồ sơ do đơn vị", "minutes of them"),
    "coordinating": ("Bước phối hợp (liên thông)", "coordinating steps"),
    "dossier": ("Mã hồ sơ", "dossier"),
    "procedure": ("Mã thủ tục", "procedure"),
    "procedure_name": ("Thủ tục", "procedure name"),
    "status_label": ("Trạng thái", "status"),
    "times": ("Số lần yêu cầu bổ sung", "times sent back"),
    "request": ("Lần", "request no."),
    "at": ("Thời điểm yêu cầu", "asked at"),
    "reason": ("Lý do", "reason"),
    "resolved_at": ("Ngày có kết quả", "resolved at"),
    "unit_at_fault": ("Đơn vị gây trễ", "unit at fault"),
    "unit_at_fault_name": ("Tên đơn vị gây trễ", "its name"),
    "required_at": ("Hạn xin lỗi", "apology required by"),
    "issued_at": ("Ngày xin lỗi", "apology issued at"),
    "apology_unit": ("Đơn vị xin lỗi", "apologising unit"),
    "apology_by_name": ("Người ký", "signed by"),
    "missing": ("Chưa xin lỗi", "apology missing"),
    "figure": ("Chỉ tiêu", "figure"),
    "label": ("Nội dung", "meaning"),
    "value": ("Giá trị", "value"),
}

#: The period report's figures: key -> Vietnamese label.
PERIOD_LABELS: dict[str, str] = {
    "period_start": "Từ (from)",
    "period_end": "Đến trước (until, excluded)",
    "carried_over": "Kỳ trước chuyển sang (carried over)",
    "received": "Tiếp nhận trong kỳ (received)",
    "direct": "– trực tiếp (direct)",
    "online": "– trực tuyến (online)",
    "postal": "– qua bưu chính công ích (postal)",
    "resolved": "Đã giải quyết (resolved)",
    "resolved_early": "– trước hạn (early)",
    "resolved_on_time": "– đúng hạn (on time)",
    "resolved_late": "– quá hạn (late)",
    "resolved_late_apologised": "   trong đó đã xin lỗi (of which apologised)",
    "in_progress": "Đang giải quyết cuối kỳ (in progress at the end)",
    "in_progress_on_time": "– trong hạn (on time)",
    "in_progress_overdue": "– quá hạn (overdue)",
    "withdrawn": "Rút hồ sơ (withdrawn)",
    "stopped": "Dừng xử lý (stopped)",
    "refused": "Từ chối tiếp nhận (refused)",
    "on_time_rate": "Tỷ lệ đúng hạn, theo hạn luật định, % (on-time rate, legal clock)",
    "kpi_resolved_on_time": "Đúng hạn theo QĐ 766 (on time, QĐ 766 clock)",
    "kpi_resolved_late": "Quá hạn theo QĐ 766 (late, QĐ 766 clock)",
    "kpi_on_time_rate": "Tỷ lệ đúng hạn theo QĐ 766, % (on-time rate, QĐ 766 clock)",
    "online_share": "Tỷ lệ hồ sơ trực tuyến, % (online share)",
    "kpi_processed": "QĐ 766: hồ sơ xử lý trong kỳ (processed)",
    "kpi_processed_on_time": "QĐ 766: trong đó đúng hạn (of which on time)",
    "kpi_progress_rate": "QĐ 766: tiến độ giải quyết, % (progress indicator)",
}

#: The columns of each report in tables, CSV and workbooks.
COLUMNS: dict[str, tuple[str, ...]] = {
    "officers": (
        "officer",
        "name",
        "unit",
        "unit_name",
        "steps",
        "early",
        "on_time",
        "late",
        "late_on_arrival",
        "overdue",
        "late_minutes",
        "escalations",
    ),
    "units": (
        "unit",
        "name",
        "steps",
        "early",
        "on_time",
        "late",
        "late_on_arrival",
        "overdue",
        "late_minutes",
        "escalations",
        "late_dossiers",
        "late_dossier_minutes",
        "coordinating",
    ),
    "returned": (
        "dossier",
        "procedure",
        "status_label",
        "times",
        "request",
        "at",
        "unit",
        "unit_name",
        "officer",
        "name",
        "reason",
    ),
    "apologies": (
        "dossier",
        "procedure",
        "status_label",
        "resolved_at",
        "late_minutes",
        "unit_at_fault",
        "unit_at_fault_name",
        "required_at",
        "issued_at",
        "apology_unit",
        "apology_by_name",
        "late",
        "missing",
    ),
    "period": ("figure", "label", "value"),
}
#: Columns whose values are instants (shown local, to the minute, in tables and workbooks).
INSTANTS = {"at", "resolved_at", "required_at", "issued_at"}


def as_data(kind: str, result: Any) -> Any:
    """The JSON value of a report's result."""
    if isinstance(result, list):
        return [attrs.asdict(r) for r in result]
    return attrs.asdict(result)


def rows_of(kind: str, result: Any) -> list[dict[str, Any]]:
    """A report's result as flat rows with the keys of :data:`COLUMNS` (``returned``: one row
    per request; ``period``: one row per figure)."""
    if kind == "period":
        data = attrs.asdict(result)
        return [
            {"figure": k, "label": PERIOD_LABELS.get(k, k), "value": v} for k, v in data.items()
        ]
    out = []
    for r in result:
        d = attrs.asdict(r)
        if kind == "returned":
            for i, req in enumerate(d.pop("requests"), 1):
                out.append({**d, **req, "request": i})
        else:
            out.append(d)
    return out


def shown(key: str, value: Any) -> Any:
    """A value for a person: instants local to the minute, yes/no for flags."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "có" if value else "không"
    if key in INSTANTS and isinstance(value, str):
        return f"{datetime.fromisoformat(value).astimezone(VN_TZ):%d/%m/%Y %H:%M}"
    if key in ("period_start", "period_end") or (
        key == "value" and isinstance(value, str) and value[:4].isdigit()
    ):
        return f"{datetime.fromisoformat(value).astimezone(VN_TZ):%d/%m/%Y %H:%M}"
    return value


def header(key: str) -> str:
    """``Vietnamese (English)``."""
    vi, en = HEADERS.get(key, (key, key))
    return vi if vi == en else f"{vi} ({en})"


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, split: bool = False
) -> str:
    """A plain text table: numbers right-aligned, nothing cut. ``split``: a header
    ``Vietnamese (English)`` takes two lines, the English under the Vietnamese."""
    heads = [h.rsplit(" (", 1) if split and h.endswith(")") else [h] for h in headers]
    top = [h[0] for h in heads]
    second = [f"({h[1]}" if len(h) > 1 else "" for h in heads]
    body = [[str(c) for c in r] for r in rows]
    head_rows = [top, second] if any(second) else [top]
    cells = head_rows + body
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    # Counts and rates right-aligned; codes (1.013831, 233448) are text, left-aligned.
    numeric = [
        bool(rows) and all(_is_number(r[i]) for r in rows if r[i] != "")
        for i in range(len(headers))
    ]

    def line(r: Sequence[str], align: bool) -> str:
        return "  ".join(
            c.rjust(w) if align and num else c.ljust(w)
            for c, w, num in zip(r, widths, numeric, strict=True)
        ).rstrip()

    out = [line(r, False) for r in head_rows]
    out.append("  ".join("-" * w for w in widths))
    out += [line(r, True) for r in body]
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        return (value.endswith("%") and value[:-1].replace(".", "").isdigit()) or value == "-"
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_table(kind: str, result: Any, *, title: str = "") -> str:
    """The report as a table for the terminal: rich's when it is installed, else plain."""
    cols = COLUMNS[kind]
    rows = [[shown(c, r.get(c)) for c in cols] for r in rows_of(kind, result)]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is optional at run time: the plain table says the same
        return (f"{title}\n" if title else "") + text_table([header(c) for c in cols], rows)
    table = Table(title=title or None, show_lines=False)
    for c in cols:
        vi, en = HEADERS.get(c, (c, c))
        numeric = bool(rows) and all(isinstance(r[cols.index(c)], int | float) for r in rows)
        table.add_column(
            vi if vi == en else f"{vi}\n({en})", justify="right" if numeric else "left"
        )
    for r in rows:
        table.add_row(*(str(v) for v in r))
    width = shutil.get_terminal_size((200, 24)).columns
    console = Console(
        file=io.StringIO(), width=max(width, 100), force_terminal=False, color_system=None
    )
    console.print(table)
    out: str = console.file.getvalue()  # type: ignore[attr-defined]
    return out.rstrip("\n")


def to_csv(kind: str, result: Any) -> str:
    """CSV with the JSON keys as its header row."""
    cols = COLUMNS[kind] if kind != "period" else ("figure", "value")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows_of(kind, result):
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue()


def to_json(kind: str, result: Any) -> str:
    return json.dumps(as_data(kind, result), ensure_ascii=False, indent=2)


def to_xlsx(kind: str, result: Any, path: str | Path, *, title: str = "") -> None:
    """An Excel workbook: Vietnamese headers on the first row, English on the second."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:
        raise InvalidData(
            "--format xlsx needs the openpyxl package (pip install openpyxl)"
        ) from None
    cols = COLUMNS[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = kind
    ws.append([HEADERS.get(c, (c, c))[0] for c in cols])
    ws.append([HEADERS.get(c, (c, c))[1] for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows_of(kind, result):
        ws.append([shown(c, r.get(c)) for c in cols])
    ws.freeze_panes = "A3"
    for i in range(1, len(cols) + 1):
        longest = max((len(str(v.value or "")) for v in ws[ws.cell(1, i).column_letter]), default=8)
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(60, max(8, longest + 2))
    if title:
        wb.properties.title = title
    wb.save(str(path))


WRITERS: dict[str, Callable[[str, Any], str]] = {"csv": to_csv, "json": to_json}
