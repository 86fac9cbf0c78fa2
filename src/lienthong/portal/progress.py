"""A dossier's progress records for the national portal (``CapNhatTienDoHoSoMC``: one per
handoff and per change of status), its supplement list (``DanhSachHoSoBoSung``) and its
extension list (the apology with a new appointment, gia hạn: ``DanhSachGiaHan``, a name of
lienthong's own, see docs/portal.md), built from its audit rows.

The audit holds what happened, not the status or the appointment after each event: both are
replayed here from the events, in order (:func:`timeline`). The replay ends where the dossier
row stands (its status and appointment), which a property test checks over random histories.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from lienthong.portal.dates import portal_date
from lienthong.portal.facts import APPLICANT, Facts, Source, read
from lienthong.status import Channel, Status
from lienthong.store.records import parse_instant

#: The audit events after which a dossier's portal record or its progress records differ:
#: the engine offers the payload to plugins after a command that wrote one of them.
CHANGES = frozenset(
    {
        "received",
        "handoff",
        "returned",
        "refused",
        "withdrawn",
        "supplement_requested",
        "supplement_received",
        "supplement_expired",
        "obligation_started",
        "obligation_ended",
        "apology",
        "migrated",  # another procedure version: its name may differ
    }
)

#: The fields of a progress record, in domain.md §5's order.
PROGRESS_FIELDS = (
    "MaHoSo",
    "NguoiXuLy",
    "ChucDanh",
    "ThoiDiemXuLy",
    "PhongBanXuLy",
    "NoiDungXuLy",
    "TrangThai",
    "NgayBatDau",
    "NgayKetThucTheoQuyDinh",
)

#: The fields of a supplement request (``DanhSachHoSoBoSung``) that domain.md §5 names.
SUPPLEMENT_FIELDS = (
    "HoSoBoSungId",
    "NguoiYeuCauBoSung",
    "NoiDungBoSung",
    "NgayBoSung",
    "NguoiTiepNhanBoSung",
    "NgayTiepNhanBoSung",
    "TrangThaiBoSung",
    "NgayHenTraTruoc",
    "NgayHenTraMoi",
)

#: The fields of an extension (``DanhSachGiaHan``): lienthong's names, in the portal's manner.
EXTENSION_FIELDS = (
    "GiaHanId",
    "NguoiGiaHan",
    "ChucDanh",
    "DonViGiaHan",
    "NgayGiaHan",
    "NoiDungGiaHan",
    "NgayHenTraTruoc",
    "NgayHenTraMoi",
    "GiaHanMuon",
)


@attrs.frozen
class Moment:
    """One audit row with the dossier's status and appointment once it had happened."""

    row: Mapping[str, Any]
    status: Status
    appointment: datetime | None


def timeline(f: Facts) -> list[Moment]:
    """The dossier's audit rows of :data:`CHANGES`, each with the status (TrangThaiHoSo) and
    the appointment (NgayHenTra) it left the dossier in."""
    d = f.dossier
    online = d.channel == Channel.ONLINE
    status = Status.NEW if online else Status.ACCEPTED
    # An online dossier has no appointment until its reception step accepts it.
    appointment = None if online else d.original_appointment
    out = []
    for r in f.audit:
        event = r["event"]
        if event not in CHANGES:
            continue
        if event == "received":
            status = Status.NEW if online else Status.ACCEPTED
        elif event == "handoff":
            if status in (Status.NEW, Status.ACCEPTED):
                status = Status.PROCESSING
                appointment = appointment or d.original_appointment
            if _resolves(f, r):
                status = Status.RESOLVED
        elif event == "returned":
            status = Status.RETURNED
        elif event == "refused":
            status = Status.REFUSED
        elif event == "withdrawn":
            status = Status.WITHDRAWN if r["from_officer"] == APPLICANT else Status.STOPPED
        elif event == "supplement_expired":
            status = Status.STOPPED
        elif event == "supplement_requested":
            status = Status.SUPPLEMENT_REQUESTED
        elif event == "obligation_started":
            status = Status.FINANCIAL_OBLIGATION
        elif event in ("supplement_received", "obligation_ended"):
            status = Status.PROCESSING
            appointment = parse_instant(r["due_at"]) or appointment
        elif event == "apology":
            appointment = parse_instant(r["due_at"]) or appointment
        out.append(Moment(r, status, appointment))
    return out


def _resolves(f: Facts, r: Mapping[str, Any]) -> bool:
    """Whether a handoff is the one into the return step that made the result ready (status
    9): the engine writes it in the command that resolves the dossier, at that instant."""
    step = f.steps.get(r["step_id"]) if r["to_unit"] else None
    resolved = f.dossier.resolved_at
    at = parse_instant(r["at"])
    return (
        step is not None
        and step.step_kind == "return"
        and resolved is not None
        and at is not None
        and at >= resolved
    )


def progress_records(
    source: Source | Facts, code: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """The dossier's progress records, in order: one per handoff (a step opening at a unit)
    and per change of status (reception, supplement, financial obligation, apology, return,
    refusal, withdrawal). A completed step that only waits for a parallel branch has none:
    nothing was handed on. ``source`` and ``org`` as for
    :func:`~lienthong.portal.portal_record`."""
    f = source if isinstance(source, Facts) else read(source, _code(code), **kw)
    return progress_of(f, timeline(f))


def progress_of(f: Facts, moments: Sequence[Moment]) -> list[dict[str, Any]]:
    """:func:`progress_records` from the facts and their :func:`timeline`."""
    out = []
    for m in moments:
        r = m.row
        if r["event"] == "handoff" and not r["to_unit"]:
            continue
        if r["event"] == "migrated":
            continue
        actor, from_giver = _actor(r)
        unit = (r["from_unit"] if from_giver else r["to_unit"]) or f.names.unit_of(actor or "")
        due = r["due_at"] if r["event"] in ("received", "handoff") else None
        out.append(
            {
                "MaHoSo": f.dossier.code,
                "NguoiXuLy": f.officer_name(actor),
                "ChucDanh": f.title(actor),
                "ThoiDiemXuLy": portal_date(r["at"]),
                "PhongBanXuLy": f.unit_name(unit),
                "NoiDungXuLy": _content(f, m),
                "TrangThai": str(int(m.status)),
                "NgayBatDau": portal_date(r["at"]),
                "NgayKetThucTheoQuyDinh": portal_date(due) or portal_date(m.appointment),
            }
        )
    return out


def _code(code: str | None) -> str:
    if code is None:
        raise TypeError("give the dossier code")
    return code


def _actor(r: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The officer who acted (the giver, unless the giver is the applicant or nobody: then the
    officer who took it), and whether that is the giver."""
    giver = r["from_officer"]
    if giver and giver != APPLICANT:
        return giver, True
    taker = r["to_officer"]
    return (taker if taker and taker != APPLICANT else None), False


def _content(f: Facts, m: Moment) -> str:
    """NoiDungXuLy: what was done, in Vietnamese."""
    r = m.row
    event, note = r["event"], (r["note"] or "").strip()
    step = f.steps.get(r["step_id"]) if r["step_id"] is not None else None
    to = f.unit_name(r["to_unit"]) or ""
    if event == "received":
        if m.status == Status.NEW:
            return "Hồ sơ nộp trực tuyến, chờ tiếp nhận"
        if step is not None and step.step_kind != "reception":
            return f"Tiếp nhận hồ sơ; chuyển {to} xử lý: {step.name}"
        return "Tiếp nhận hồ sơ"
    if event == "handoff":
        name = step.name if step else note
        if m.status == Status.RESOLVED:
            return f"Đã xử lý xong; chuyển {to} trả kết quả"
        return f"Chuyển {to} xử lý: {name}"
    data = _data(r)
    texts = {
        "returned": "Đã trả kết quả cho người nộp hồ sơ",
        "refused": f"Từ chối tiếp nhận hồ sơ (Mẫu 03): {note}",
        "supplement_requested": "Yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02): "
        + _supplement_text(data, note),
        "supplement_received": "Nhận đủ hồ sơ bổ sung; thời hạn giải quyết tính lại từ đầu",
        "supplement_expired": "Không bổ sung hồ sơ trong thời hạn: dừng giải quyết",
        "obligation_started": f"Yêu cầu thực hiện nghĩa vụ tài chính: {note}",
        "obligation_ended": "Đã thực hiện nghĩa vụ tài chính",
        "apology": "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết (Mẫu 04): "
        + str(data.get("reason") or note),
    }
    if event == "withdrawn":
        if m.status == Status.WITHDRAWN:
            return f"Người nộp hồ sơ rút hồ sơ: {note}"
        return f"Dừng giải quyết hồ sơ (Mẫu 05): {note}"
    return texts.get(event, note)


def _data(r: Mapping[str, Any]) -> dict[str, Any]:
    """An audit row's ``data`` as the mapping it was written from (``{}`` for anything else)."""
    try:
        value = json.loads(r["data"]) if r["data"] else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _supplement_text(data: Mapping[str, Any], note: str) -> str:
    reason = str(data.get("reason") or note)
    missing = [str(m) for m in data.get("missing") or ()]
    return reason + (f"; giấy tờ cần bổ sung: {', '.join(missing)}" if missing else "")


def supplement_list(
    source: Source | Facts, code: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """``DanhSachHoSoBoSung``: each supplement request (Mẫu 02), with who asked, what for,
    when, who received the supplement and when (``TrangThaiBoSung`` ``"1"``; ``"0"`` while
    the applicant has not brought it), and the appointment before the request and the one the
    restarted deadline set (``NgayHenTraMoi``, once received)."""
    f = source if isinstance(source, Facts) else read(source, _code(code), **kw)
    return supplements_of(f, timeline(f))


def supplements_of(f: Facts, moments: Sequence[Moment]) -> list[dict[str, Any]]:
    """:func:`supplement_list` from the facts and their :func:`timeline`."""
    out: list[dict[str, Any]] = []
    before: datetime | None = None
    for m in moments:
        r = m.row
        if r["event"] == "supplement_requested":
            data = _data(r)
            out.append(
                {
                    "HoSoBoSungId": str(r["id"]),
                    "NguoiYeuCauBoSung": f.officer_name(r["from_officer"]),
                    "NoiDungBoSung": _supplement_text(data, (r["note"] or "").strip()),
                    "NgayBoSung": portal_date(r["at"]),
                    "NguoiTiepNhanBoSung": None,
                    "NgayTiepNhanBoSung": None,
                    "TrangThaiBoSung": "0",
                    "NgayHenTraTruoc": portal_date(before),
                    "NgayHenTraMoi": None,
                }
            )
        elif r["event"] == "supplement_received" and out and out[-1]["TrangThaiBoSung"] == "0":
            out[-1].update(
                NguoiTiepNhanBoSung=f.officer_name(_actor(r)[0]),
                NgayTiepNhanBoSung=portal_date(r["at"]),
                TrangThaiBoSung="1",
                NgayHenTraMoi=portal_date(m.appointment),
            )
        before = m.appointment
    return out


def extension_list(
    source: Source | Facts, code: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """``DanhSachGiaHan``: the apology with a new appointment (văn bản xin lỗi và đề nghị gia
    hạn thời gian giải quyết, Mẫu 04), at most one per dossier (Decree 118/2025 Art 19(6)):
    who signed it, the unit, when, the reason, the appointment it moved and the new one, and
    whether it came after its legal latest instant (``GiaHanMuon`` ``"1"``)."""
    f = source if isinstance(source, Facts) else read(source, _code(code), **kw)
    return extensions_of(f, timeline(f))


def extensions_of(f: Facts, moments: Sequence[Moment]) -> list[dict[str, Any]]:
    """:func:`extension_list` from the facts and their :func:`timeline`."""
    out = []
    before: datetime | None = None
    for m in moments:
        r = m.row
        if r["event"] == "apology":
            data = _data(r)
            out.append(
                {
                    "GiaHanId": str(r["id"]),
                    "NguoiGiaHan": f.officer_name(r["from_officer"]),
                    "ChucDanh": f.title(r["from_officer"]),
                    "DonViGiaHan": f.unit_name(r["from_unit"]),
                    "NgayGiaHan": portal_date(r["at"]),
                    "NoiDungGiaHan": str(data.get("reason") or r["note"] or ""),
                    "NgayHenTraTruoc": portal_date(data.get("old_appointment") or before),
                    "NgayHenTraMoi": portal_date(m.appointment),
                    "GiaHanMuon": "1" if data.get("late") else "0",
                }
            )
        before = m.appointment
    return out
