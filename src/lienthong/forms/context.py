"""Each dossier form's data (Mẫu 01–06), built from what the store keeps about the dossier.

One function per form, each returning a :class:`~lienthong.forms.specs.Form` whose pages are
plain mappings for the templates. Where each field comes from is in ``docs/forms.md``; a form
the dossier gives no ground for (Mẫu 02 for a dossier never asked for a supplement, Mẫu 03 for
one not refused, Mẫu 04 with no apology, Mẫu 05 with no withdrawal or stop) is refused with
:class:`~lienthong.errors.FormNotApplicable`, naming the form, the dossier and its status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lienthong.errors import FormNotApplicable
from lienthong.forms import vn
from lienthong.forms.source import Source
from lienthong.forms.specs import FORMS, Form
from lienthong.reports.sheet import APPLICANT
from lienthong.status import Channel, Status
from lienthong.store.records import Dossier, parse_instant

#: Where the applicant collects the result (nơi nhận kết quả), by channel (KenhThucHien).
RESULT_PLACES = {
    Channel.DIRECT: "Trực tiếp tại Bộ phận Tiếp nhận và Trả kết quả nơi nộp hồ sơ",
    Channel.ONLINE: "Trực tuyến trên Cổng Dịch vụ công quốc gia",
    Channel.POSTAL: "Qua dịch vụ bưu chính công ích, theo địa chỉ đã đăng ký",
}


def refuse(number: str, d: Dossier, why: str) -> FormNotApplicable:
    """The error for a form the dossier gives no ground for."""
    return FormNotApplicable(
        f"{FORMS[number].label}: dossier {d.code} {why} (status {int(d.status)}, "
        f"{d.status.label}); there is nothing for this form to record"
    )


def _rows(src: Source, d: Dossier, event: str) -> list[dict[str, Any]]:
    return [r for r in src.audit(d.code) if r["event"] == event]


def _first(src: Source, d: Dossier, event: str) -> dict[str, Any] | None:
    return next(iter(_rows(src, d, event)), None)


def _data(row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(row["data"]) if row["data"] else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _at(row: Mapping[str, Any], key: str = "at") -> datetime | None:
    return parse_instant(row.get(key))


def common(src: Source, d: Dossier, *, place: str | None) -> dict[str, Any]:
    """What every dossier form prints: the dossier, its applicant, its procedure."""
    proc = src.procedure(d.procedure_version)
    a = d.applicant
    return {
        "code": d.code,
        "place": place,
        "procedure": {
            "code": proc.code,
            "name": proc.name,
            "legal_basis": proc.legal_basis,
            "deadline": vn.duration(proc.deadline_minutes, same_day=proc.same_day),
        },
        "applicant": {
            "name": str(a.get("name") or ""),
            "address": str(a.get("address") or ""),
            "phone": str(a.get("phone") or ""),
            "email": str(a.get("email") or ""),
        },
        "received_at": d.received_at,
        "first_appointment": d.original_appointment,
        "receiving": src.agency(d.receiving_unit),
        "status": d.status.label,
    }


def documents(d: Dossier) -> list[dict[str, Any]]:
    """The documents submitted (thành phần hồ sơ): a document given as a mapping may say its
    ``name``, its ``form`` (bản chính, bản sao, bản chụp) and ``copies``; one given as a code
    alone is printed by its code."""
    out = []
    for doc in d.documents:
        copies = doc.get("copies")
        out.append(
            {
                "name": str(doc.get("name") or doc.get("code") or ""),
                "form": str(doc.get("form") or ""),
                "copies": f"{copies:02d}" if isinstance(copies, int) else str(copies or "01"),
            }
        )
    return out


# -- Mẫu 01 ------------------------------------------------------------------------------------
def mau01(src: Source, code: str, *, place: str | None = None) -> Form:
    """Giấy tiếp nhận hồ sơ và hẹn trả kết quả: issued when the dossier is received complete
    and valid (an online one: when the desk accepts it), with the first appointment."""
    d = src.dossier(code)
    if d.received_at is None or d.status == Status.REFUSED:
        why = "was refused at reception" if d.status == Status.REFUSED else "is not received yet"
        raise refuse("01", d, why)
    steps = src.steps(code)
    received = _first(src, d, "received") or {}
    reception = next((s for s in steps if s.step_kind == "reception"), None)
    # Who received it: for an online dossier the officer who accepted it; at the counter, the
    # officer named there, else the one who took the reception step.
    took = (reception.closed_by or reception.assignee) if reception else None
    who = (took or received.get("to_officer")) if d.channel == Channel.ONLINE else None
    who = who or received.get("to_officer") or took
    page = {
        **common(src, d, place=place),
        "agency": src.agency(d.receiving_unit),
        "date": d.received_at,
        "documents": documents(d),
        "result_place": RESULT_PLACES[d.channel],
        "fee": vn.money(d.fee),
        "channel_online": d.channel == Channel.ONLINE,
        "applicant_sign": d.applicant.get("name") or "",
        "officer": src.signature(str(who) if who else None, None, clerk="Người tiếp nhận hồ sơ"),
    }
    return Form(FORMS["01"], d.code, (page,))


# -- Mẫu 02 ------------------------------------------------------------------------------------
def mau02(src: Source, code: str, *, place: str | None = None) -> Form:
    """Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ: one page per request, in order, each from the
    unit that asked, with the documents missing and the reason."""
    d = src.dossier(code)
    requests = _rows(src, d, "supplement_requested")
    if not requests:
        raise refuse("02", d, "was never asked for a supplement")
    received = _rows(src, d, "supplement_received")
    pages = []
    for n, r in enumerate(requests, 1):
        data = _data(r)
        at = _at(r)
        answered = next((_at(x) for x in received if x["id"] > r["id"]), None)
        pages.append(
            {
                **common(src, d, place=place),
                "agency": src.agency(r["from_unit"] or d.receiving_unit),
                "date": at,
                "requested_at": at,
                "nth": n,
                "of": len(requests),
                "missing": [str(m) for m in data.get("missing") or []],
                "reason": str(data.get("reason") or r["note"] or ""),
                "answered_at": answered,
                "officer": src.signature(r["from_officer"], None, clerk="Người hướng dẫn"),
            }
        )
    return Form(FORMS["02"], d.code, tuple(pages))


# -- Mẫu 03 ------------------------------------------------------------------------------------
def mau03(src: Source, code: str, *, place: str | None = None) -> Form:
    """Phiếu từ chối tiếp nhận giải quyết hồ sơ: the reception step refused the dossier (status
    3), with the reason its officer gave."""
    d = src.dossier(code)
    r = _first(src, d, "refused")
    if r is None:
        raise refuse("03", d, "was not refused at reception")
    unit = r["from_unit"] or d.receiving_unit
    page = {
        **common(src, d, place=place),
        "agency": src.agency(unit),
        "date": _at(r),
        "refused_at": _at(r),
        "arrived_at": d.arrived_at,
        "reason": str(r["note"] or ""),
        "officer": src.signature(r["from_officer"], None, clerk="Người tiếp nhận hồ sơ"),
    }
    return Form(FORMS["03"], d.code, (page,))


# -- Mẫu 04 ------------------------------------------------------------------------------------
def mau04(src: Source, code: str, *, place: str | None = None) -> Form:
    """Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết: from the unit at fault, signed
    by its head or a deputy (KT.), with the appointment missed, the reason and the new one."""
    d = src.dossier(code)
    r = _first(src, d, "apology")
    if r is None or d.apology_issued_at is None:
        raise refuse("04", d, "has no apology with a new appointment")
    data = _data(r)
    unit = d.apology_unit or r["from_unit"] or d.receiving_unit
    page = {
        **common(src, d, place=place),
        "agency": src.agency(unit),
        "date": _at(r),
        "missed": parse_instant(data.get("old_appointment")) or d.original_appointment,
        "new_appointment": parse_instant(data.get("new_appointment")) or _at(r, "due_at"),
        "reason": str(data.get("reason") or r["note"] or ""),
        "late": bool(data.get("late")),
        "desk": src.agency(d.receiving_unit),
        "signer": src.signature(d.apology_by or r["from_officer"], unit),
    }
    return Form(FORMS["04"], d.code, (page,))


# -- Mẫu 05 ------------------------------------------------------------------------------------
def mau05(src: Source, code: str, *, place: str | None = None) -> Form:
    """Thông báo dừng giải quyết hồ sơ: the applicant withdrew the dossier (status 7, recorded
    at the desk) or the agency stopped it (status 8, by a head or deputy)."""
    d = src.dossier(code)
    r = _first(src, d, "withdrawn")
    if r is None:
        raise refuse("05", d, "was neither withdrawn nor stopped")
    by_agency = r["from_officer"] != APPLICANT
    officer = r["from_officer"] if by_agency else r["to_officer"]
    unit = (src.names.unit_of(str(officer)) if by_agency else None) or d.receiving_unit
    page = {
        **common(src, d, place=place),
        "agency": src.agency(unit),
        "date": _at(r),
        "stopped_at": _at(r),
        "by_agency": by_agency,
        "reason": str(r["note"] or ""),
        "desk": src.agency(d.receiving_unit),
        "signer": src.signature(officer, unit),
    }
    return Form(FORMS["05"], d.code, (page,))


# -- Mẫu 06 ------------------------------------------------------------------------------------
def mau06(src: Source, code: str, *, place: str | None = None) -> Form:
    """Phiếu kiểm soát quá trình giải quyết hồ sơ: the control sheet, from its audit rows
    (:func:`lienthong.reports.sheet.control_sheet`), with the first appointment and the new
    one, each row labelled; the rows of branches waiting at a join are left out there."""
    d = src.dossier(code)
    sheet = src.sheet(code)
    page = {
        **common(src, d, place=place),
        "agency": src.agency(d.receiving_unit),
        "date": sheet.rows[-1].at if sheet.rows else d.arrived_at,
        "sheet": sheet,
        "rows": [{"row": r, "labelled": r.event != "handoff"} for r in sheet.rows],
    }
    return Form(FORMS["06"], d.code, (page,))


BUILDERS: dict[str, Callable[..., Form]] = {
    "01": mau01,
    "02": mau02,
    "03": mau03,
    "04": mau04,
    "05": mau05,
    "06": mau06,
}
