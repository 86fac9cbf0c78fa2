"""The accountability reports as the text a provincial dashboard prints (``lienthong demo``):
steps by unit, by officer, dossiers by procedure, the late dossiers with their unit at fault and
apology, the dossiers sent back twice. Vietnamese headers, the English beside; procedure names
are printed whole, once, not cut to fit a column.

"Trả kết quả" (results handed over, status 10) and "trả lại, yêu cầu bổ sung" (sent back to the
applicant for a supplement, Mẫu 02) are different things and are never printed under one word.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from lienthong.legaltime.clock import VN_TZ
from lienthong.org import Organisation
from lienthong.reports.apologies import apologies
from lienthong.reports.common import Names, Period, procedure_names, rate
from lienthong.reports.formats import text_table
from lienthong.reports.officers import officers
from lienthong.reports.period import period_report
from lienthong.reports.returned import returned
from lienthong.reports.units import units

#: Audit events as the dashboard names them (the rest keep their own names).
EVENT_LABELS = {
    "returned": "trả kết quả (results handed over)",
    "supplement_requested": "trả lại, yêu cầu bổ sung (sent back for a supplement)",
    "supplement_received": "nhận bổ sung (supplement received)",
    "escalated": "báo cáo lên cấp trên (escalation events)",
    "overdue": "quá hạn (went overdue)",
    "apology": "xin lỗi (apology)",
}


def _when(text: str | None) -> str:
    if not text:
        return "—"
    return f"{datetime.fromisoformat(text).astimezone(VN_TZ):%d/%m %H:%M}"


def _pct(part: int, whole: int) -> str:
    r = rate(part, whole)
    return "-" if r is None else f"{r:.0f}%"


def units_section(db: sqlite_utils.Database, names: Names, period: Period) -> list[str]:
    rows = [
        (
            u.unit,
            u.name or u.unit,
            u.steps,
            u.early,
            u.on_time,
            u.late,
            u.late_on_arrival,
            u.overdue,
            _pct(u.steps - u.late - u.late_on_arrival, u.steps),
            u.escalations,
            u.late_dossiers,
            u.coordinating,
        )
        for u in units(db, org=names, period=period)
        if u.steps or u.late_dossiers
    ]
    return [
        "Bước xử lý theo đơn vị (steps by unit; late = made late by the unit, late on arrival "
        "= received already late; escalations = steps escalated to its head)",
        text_table(
            (
                "Mã đơn vị",
                "Đơn vị (unit)",
                "Đã xong (done)",
                "Trước hạn (early)",
                "Đúng hạn (on time)",
                "Quá hạn (late)",
                "Nhận muộn (late on arrival)",
                "Từng quá hạn (went overdue)",
                "Trong hạn (in time)",
                "Báo cáo lên (escalations)",
                "Hồ sơ trễ do đơn vị (late dossiers caused)",
                "Phối hợp (coordinating)",
            ),
            rows,
            split=True,
        ),
    ]


def officers_section(db: sqlite_utils.Database, names: Names, period: Period) -> list[str]:
    rows = [
        (
            o.name or o.officer,
            o.unit,
            o.steps,
            o.early,
            o.on_time,
            o.late,
            o.late_on_arrival,
            o.overdue,
            o.late_minutes,
            o.escalations,
        )
        for o in officers(db, org=names, period=period)
    ]
    return [
        "Kết quả xử lý theo cán bộ (steps by officer; escalations = steps escalated to them as "
        "head)",
        text_table(
            (
                "Cán bộ (officer)",
                "Mã đơn vị (unit)",
                "Đã xong (done)",
                "Trước hạn (early)",
                "Đúng hạn (on time)",
                "Quá hạn (late)",
                "Nhận muộn (late on arrival)",
                "Từng quá hạn (went overdue)",
                "Phút quá hạn (late minutes)",
                "Báo cáo lên (escalations)",
            ),
            rows,
            split=True,
        ),
    ]


def procedures_section(db: sqlite_utils.Database, names: Names, period: Period) -> list[str]:
    titles = procedure_names(db)
    legend = []
    rows = []
    for code in sorted(titles):
        legend += textwrap.wrap(f"{code}: {titles[code]}", width=96, subsequent_indent="    ")
        p = period_report(db, org=names, period=period, procedure=code)
        handed = db.conn.execute(
            "SELECT count(*) FROM dossiers WHERE procedure_code = ? AND status = 10", [code]
        ).fetchone()[0]
        rows.append(
            (
                code,
                p.received,
                p.resolved,
                p.resolved_early,
                p.resolved_on_time,
                p.resolved_late,
                p.resolved_late_apologised,
                p.kpi_resolved_late,
                p.in_progress,
                p.refused,
                handed,
            )
        )
    return [
        "Hồ sơ theo thủ tục (dossiers by procedure; late = resolved after the first "
        "appointment, whatever an apology did; KPI late = the national indicators' clock, "
        "QĐ 766)",
        *legend,
        text_table(
            (
                "Mã thủ tục",
                "Tiếp nhận (received)",
                "Đã giải quyết (resolved)",
                "Trước hạn (early)",
                "Đúng hạn (on time)",
                "Quá hạn (late)",
                "trong đó đã xin lỗi (apologised)",
                "Quá hạn QĐ 766 (KPI late)",
                "Đang giải quyết (in progress)",
                "Từ chối (refused)",
                "Đã trả kết quả (results handed over)",
            ),
            rows,
            split=True,
        ),
    ]


def late_section(
    db: sqlite_utils.Database, names: Names, period: Period, now: datetime | None = None
) -> list[str]:
    rows = [
        (
            a.dossier,
            a.procedure,
            a.late_minutes if a.late_minutes is not None else "đang xử lý",
            a.unit_at_fault_name or a.unit_at_fault or "—",
            _when(a.required_at),
            _when(a.issued_at),
            a.apology_unit or "—",
            "chưa có (missing)" if a.missing else ("muộn (late)" if a.late else "đúng (in time)"),
        )
        for a in apologies(db, org=names, period=period, now=now)
    ]
    missing = sum(1 for r in rows if r[-1].startswith("chưa"))
    return [
        f"Hồ sơ quá hạn và xin lỗi (late dossiers: {len(rows)}, of which no apology: "
        f"{missing}; unit at fault = whose own steps made it late)",
        text_table(
            (
                "Mã hồ sơ",
                "Thủ tục",
                "Phút quá hạn (late minutes)",
                "Đơn vị gây trễ (unit at fault)",
                "Hạn xin lỗi (required by)",
                "Ngày xin lỗi (issued)",
                "Đơn vị xin lỗi (by unit)",
                "Xin lỗi (apology)",
            ),
            rows,
            split=True,
        )
        if rows
        else "  (không có — none)",
    ]


def returned_section(db: sqlite_utils.Database, names: Names, period: Period) -> list[str]:
    found = returned(db, org=names, period=period)
    lines = [
        f"Hồ sơ bị trả lại yêu cầu bổ sung từ 2 lần (dossiers sent back for a supplement twice "
        f"or more: {len(found)}; not results handed over)"
    ]
    for r in found:
        lines.append(f"  {r.dossier}  {r.procedure}  {r.times} lần  ({r.status_label})")
        for i, q in enumerate(r.requests, 1):
            who = q.name or q.officer
            lines.append(f"    {i}. {_when(q.at)}  {q.unit_name or q.unit}  {who}: {q.reason}")
    if not found:
        lines.append("  (không có — none)")
    return lines


def dashboard(
    db: sqlite_utils.Database,
    org: Organisation | Names | None,
    period: Period | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Every section, blank lines between; ``now``: where the late dossiers still in progress
    are judged (default: the last instant the audit recorded)."""
    names = Names.of(org, db)
    period = period or Period()
    out: list[str] = []
    for section in (
        units_section(db, names, period),
        officers_section(db, names, period),
        procedures_section(db, names, period),
        late_section(db, names, period, now),
        returned_section(db, names, period),
    ):
        out += [*section, ""]
    return out


def events_line(counts: Sequence[tuple[str, int]]) -> str:
    """The audit events by name, the confusable ones labelled."""
    return "Sự kiện nhật ký (audit events): " + ", ".join(
        f"{EVENT_LABELS.get(k, k)} {v}" for k, v in counts
    )
