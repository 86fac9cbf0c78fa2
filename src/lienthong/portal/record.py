"""A dossier's record for the national public service portal (Cổng Dịch vụ công quốc gia):
the ``DongBoHoSoMC`` dossier of domain.md §5, with the field names it gives, the portal's
instants (``yyyyMMddHHmmss``, Vietnamese time) and its status codes (TrangThaiHoSo 1–10).

Values are text, as the portal's adapter takes them (``"TrangThaiHoSo": "5"``), lists are
lists of mappings, and a field lienthong does not know is ``None`` (docs/portal.md lists them
and says where each known one comes from). lienthong builds the record; a plugin sends it
(``portal_record_changed``): lienthong never calls the portal itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lienthong.org import Organisation
from lienthong.portal.dates import portal_date
from lienthong.portal.facts import Facts, Source, read
from lienthong.portal.progress import (
    Moment,
    extensions_of,
    progress_of,
    supplements_of,
    timeline,
)
from lienthong.status import Status

#: The dossier record's fields, in domain.md §5's order, and the one lienthong adds
#: (``DanhSachGiaHan``, the extension list: domain.md names no field for it).
RECORD_FIELDS = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "TenLinhVuc",
    "SoBienNhan",
    "ChuHoSo",
    "LoaiDoiTuong",
    "MaDoiTuong",
    "Email",
    "SoDienThoai",
    "TrichYeuHoSo",
    "NgayNopHoSo",
    "NgayTiepNhan",
    "NgayHenTra",
    "TrangThaiHoSo",
    "NgayTra",
    "ThongTinTra",
    "HinhThuc",
    "NgayKetThucXuLy",
    "DonViXuLy",
    "KenhThucHien",
    "TaiLieuNop",
    "DanhSachLePhi",
    "DanhSachHoSoBoSung",
    "DanhSachGiayToKetQua",
    "HoSoCoThanhPhanSoHoa",
    "DuocThanhToanTrucTuyen",
    "TaiKhoanDuocXacThucVoiVNeID",
    "MaCSDL",
    "DanhSachGiaHan",
)

#: The fields lienthong does not know, always ``None`` (docs/portal.md says why).
UNKNOWN = (
    "MaLinhVuc",
    "TenLinhVuc",
    "ThongTinTra",
    "HinhThuc",
    "DanhSachGiayToKetQua",
    "HoSoCoThanhPhanSoHoa",
    "DuocThanhToanTrucTuyen",
    "TaiKhoanDuocXacThucVoiVNeID",
    "MaCSDL",
)

#: The fields of one submitted document (``TaiLieuNop``) and of one fee (``DanhSachLePhi``).
DOCUMENT_FIELDS = (
    "TepDinhKemId",
    "TenTepDinhKem",
    "MaThanhPhanHoSo",
    "DuongDanTaiTepTin",
    "DuocSoHoa",
    "DuocTaiSuDung",
    "DuocLayTuKhoDMQG",
)
FEE_FIELDS = ("TenPhiLePhi", "MaPhiLePhi", "HinhThucThu", "Gia", "LoaiPhiLePhi")

#: LoaiDoiTuong: 1 citizen, 2 enterprise, 3 state agency, 4 organisation or other.
SUBJECT_TYPES = ("1", "2", "3", "4")


def portal_record(source: Source, code: str, *, org: Organisation | None = None) -> dict[str, Any]:
    """The ``DongBoHoSoMC`` record of dossier ``code``, as the store holds it now.

    ``source``: an Engine, or a database (a sqlite-utils ``Database``, a ``sqlite3``
    connection, or a path, opened read-only). ``org`` (an Engine's own by default) names units
    and officers where the organisations stored in the database do not.
    """
    return record_of(read(source, code, org=org))


def portal_payload(
    source: Source, code: str, *, org: Organisation | None = None, **kw: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The record and the progress records of dossier ``code``, read in one snapshot: what
    the ``portal_record_changed`` hook receives. ``kw``: as for
    :func:`lienthong.portal.facts.read`."""
    f = read(source, code, org=org, **kw)
    moments = timeline(f)
    return record_of(f, moments), progress_of(f, moments)


def record_of(f: Facts, moments: Sequence[Moment] | None = None) -> dict[str, Any]:
    """The record, from the facts read (:func:`lienthong.portal.facts.read`) and their
    :func:`~lienthong.portal.progress.timeline` (computed if not given)."""
    moments = timeline(f) if moments is None else moments
    d = f.dossier
    applicant = d.applicant
    name = _text(applicant.get("name"))
    out: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    subject = _text(applicant.get("subject_type"))
    out.update(
        MaHoSo=d.code,
        MaTTHC=d.procedure_code,
        TenTTHC=f.procedure_name,
        # Mẫu 01's number: lienthong's receipt carries the dossier code.
        SoBienNhan=d.code,
        ChuHoSo=name,
        LoaiDoiTuong=subject if subject in SUBJECT_TYPES else None,
        MaDoiTuong=_text(applicant.get("id_number")),
        Email=_text(applicant.get("email")),
        SoDienThoai=_text(applicant.get("phone")),
        TrichYeuHoSo=" – ".join(p for p in (f.procedure_name, name) if p) or None,
        NgayNopHoSo=portal_date(d.arrived_at),
        NgayTiepNhan=portal_date(d.received_at),
        NgayHenTra=portal_date(d.appointment),
        TrangThaiHoSo=str(int(d.status)),
        NgayTra=portal_date(d.closed_at) if d.status == Status.RETURNED else None,
        NgayKetThucXuLy=portal_date(_ended(f)),
        DonViXuLy=f.unit_name(lead_unit(f)),
        KenhThucHien=str(int(d.channel)),
        TaiLieuNop=[_document(doc) for doc in d.documents],
        DanhSachLePhi=None if d.fee is None else _fees(d.fee),
        DanhSachHoSoBoSung=supplements_of(f, moments),
        DanhSachGiaHan=extensions_of(f, moments),
    )
    return out


def lead_unit(f: Facts) -> str:
    """The unit that resolves the dossier (DonViXuLy, cơ quan chủ trì): the unit of the first
    lane, in the BPMN file's order, that is not coordinating and is not the receiving desk;
    the receiving unit when the desk does everything itself (as the apology's lead agency)."""
    d = f.dossier
    for role, coordinating in f.lanes.items():
        unit = d.routing.get(role)
        if not coordinating and unit is not None and unit != d.receiving_unit:
            return unit
    return d.receiving_unit


def _ended(f: Facts) -> Any:
    """NgayKetThucXuLy: when the processing ended, with the result (status 9, then 10) or
    stopped (withdrawn 7, stopped 8), as the QĐ 766 indicators take the end."""
    d = f.dossier
    if d.resolved_at is not None:
        return d.resolved_at
    if d.status in (Status.WITHDRAWN, Status.STOPPED):
        return d.closed_at
    return None


def _document(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(DOCUMENT_FIELDS)
    out["MaThanhPhanHoSo"] = _text(doc.get("code"))
    out["TenTepDinhKem"] = _text(doc.get("name")) or out["MaThanhPhanHoSo"]
    return out


def _fees(fee: int) -> list[dict[str, Any]]:
    if fee <= 0:
        return []  # free of charge: no fee to list
    out: dict[str, Any] = dict.fromkeys(FEE_FIELDS)
    out.update(TenPhiLePhi="Lệ phí", Gia=str(fee))
    return [out]


def _text(value: Any) -> str | None:
    """A value as the portal's text: ``None`` for nothing or blank."""
    if value is None or isinstance(value, Mapping | list | tuple):
        return None
    text = str(value).strip()
    return text or None
