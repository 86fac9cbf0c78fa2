"""Mẫu 07, the tracking book (sổ theo dõi hồ sơ) of a period: one line per dossier received
in it, by one receiving unit or all, with the columns domain.md §1.9 lists.

The book's official columns were not read [U]; the list is the one local templates print: STT;
mã hồ sơ; tên TTHC; số lượng hồ sơ; người nộp (tên, địa chỉ, điện thoại); cơ quan chủ trì; ngày
nhận; ngày hẹn trả; ngày chuyển hồ sơ; ngày có kết quả / yêu cầu bổ sung; ngày trả kết quả; ký
nhận; ghi chú. A dossier is in the period it was received in (``received_at``, the instant on its
Mẫu 01): an online dossier refused before the desk accepted it was never received, and is not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lienthong.forms import vn
from lienthong.forms.source import Agency, Source
from lienthong.forms.specs import FORMS, Form
from lienthong.reports.common import Names, Period, check_unit
from lienthong.status import Status
from lienthong.store.records import Dossier, parse_instant


def mau07(
    src: Source, period: Period, *, unit: str | None = None, place: str | None = None
) -> Form:
    """The book of the dossiers received in ``period`` (by ``unit``, a receiving unit's code,
    or by every unit)."""
    check_unit(src.db, Names.of(src.names), unit)
    found = src.received_between(period.low, period.high, unit)
    lines = [_line(src, n, d) for n, d in enumerate(found, 1)]
    units = {d.receiving_unit for d in found}
    code = unit or (next(iter(units)) if len(units) == 1 else None)
    # The book is closed on the period's last day (or, for everything stored, the last entry's).
    last = (
        period.end - timedelta(microseconds=1)
        if period.end is not None
        else (found[-1].received_at if found else None)
    )
    page: dict[str, Any] = {
        "agency": src.agency(code) if code else Agency(code="", name=""),
        "place": place,
        "date": last,
        "period": _describe(period),
        "lines": lines,
        "unit": src.unit_name(unit) if unit else "",
    }
    return Form(FORMS["07"], None, (page,))


def _describe(period: Period) -> str:
    """``Từ ngày 01/02/2026 đến ngày 28/02/2026`` (both days included)."""
    if period.start is None and period.end is None:
        return "Toàn bộ hồ sơ đã lưu"
    first = vn.short_day(period.start) if period.start else vn.BLANK
    last = vn.short_day(period.end - timedelta(microseconds=1)) if period.end else vn.BLANK
    return f"Từ ngày {first} đến ngày {last}"


def _line(src: Source, n: int, d: Dossier) -> dict[str, Any]:
    proc = src.procedure(d.procedure_version)
    steps = src.steps(d.code)
    rows = src.audit(d.code)
    lanes = {lane.role: lane for lane in proc.lanes.values()}
    lead = sorted(
        {
            s.unit
            for s in steps
            if s.step_kind == "processing" and not (s.role in lanes and lanes[s.role].coordinating)
        }
    )
    forwarded = next(
        (
            parse_instant(r["at"])
            for r in rows
            if r["event"] == "handoff"
            and r["from_unit"] == d.receiving_unit
            and r["to_unit"]
            and r["to_unit"] != d.receiving_unit
        ),
        None,
    )
    supplements = [parse_instant(r["at"]) for r in rows if r["event"] == "supplement_requested"]
    notes = []
    if d.status != Status.RETURNED:
        notes.append(d.status.label)
    if (d.late_minutes or 0) > 0:
        notes.append("Quá hạn")
    if d.apology_issued_at is not None:
        notes.append(f"Đã xin lỗi, hẹn lại {vn.short_day(d.appointment)}")
    a = d.applicant
    return {
        "n": n,
        "code": d.code,
        "procedure": proc.name,
        "count": "01",
        "applicant": str(a.get("name") or ""),
        "address": str(a.get("address") or ""),
        "phone": str(a.get("phone") or ""),
        "lead": [src.unit_name(u) for u in lead],
        "received_at": d.received_at,
        "appointment": d.original_appointment,
        "new_appointment": d.appointment if d.apology_issued_at is not None else None,
        "forwarded_at": forwarded,
        "resolved_at": d.resolved_at,
        "supplements": supplements,
        "returned_at": d.closed_at if d.status == Status.RETURNED else None,
        "note": "; ".join(notes),
    }
