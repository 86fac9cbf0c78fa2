"""The forms of Circular 03/2025/TT-VPCP, Phụ lục I, in Vietnamese, as printable HTML and PDF:

- Mẫu 01 Giấy tiếp nhận hồ sơ và hẹn trả kết quả;
- Mẫu 02 Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (one page per request);
- Mẫu 03 Phiếu từ chối tiếp nhận giải quyết hồ sơ;
- Mẫu 04 Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết;
- Mẫu 05 Thông báo dừng giải quyết hồ sơ;
- Mẫu 06 Phiếu kiểm soát quá trình giải quyết hồ sơ;
- Mẫu 07 Sổ theo dõi hồ sơ, for a period.

Each is built from the store alone (:mod:`lienthong.forms.source`), never from a workflow::

    from lienthong import forms
    form = forms.build("lienthong.db", "06", "000.00.01.H29-260225-0004")
    html = forms.to_html(form)
    pdf = forms.to_pdf(form)
    book = forms.book("lienthong.db", forms.Period.days("2026-02-01", "2026-02-28"))

``db`` is a path (opened read-only), a ``sqlite3`` connection or a sqlite-utils database (an
Engine's ``engine.db``). ``docs/forms.md`` says where each field comes from.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from lienthong.errors import DossierNotFound, FormError, FormNotApplicable
from lienthong.forms.book import mau07
from lienthong.forms.context import BUILDERS
from lienthong.forms.render import to_html, to_pdf
from lienthong.forms.source import Source
from lienthong.forms.specs import FORMS, Form, FormSpec, spec
from lienthong.org import Organisation
from lienthong.reports.common import Period
from lienthong.store.audit import snapshot

Database = sqlite_utils.Database | sqlite3.Connection | str | Path


def build(
    db: Database,
    number: str | int,
    code: str,
    *,
    org: Organisation | None = None,
    place: str | None = None,
) -> Form:
    """Form ``number`` (01–06) of dossier ``code``.

    ``org`` names the officers and units (default: the organisation stored in the database);
    ``place`` is the place name (địa danh) of the date line, dots without it. Mẫu 07 is
    :func:`book`. Raises :class:`FormError` for an unknown form,
    :class:`~lienthong.errors.DossierNotFound` for an unknown dossier, and
    :class:`FormNotApplicable` when the dossier lacks what the form records.
    """
    s = spec(number)
    if s.number == "07":
        raise FormError(f"{s.label} is made for a period, not a dossier: use forms.book()")
    if not isinstance(code, str) or not code.strip():
        raise FormError(f"{s.label}: a dossier code is required, got {code!r}")
    src = Source(db, org)
    try:
        with snapshot(src.db):
            return BUILDERS[s.number](src, code.strip(), place=place)
    except DossierNotFound as e:
        raise DossierNotFound(f"{s.label}: {e}") from None
    finally:
        _close(db, src)


def book(
    db: Database,
    period: Period,
    *,
    unit: str | None = None,
    org: Organisation | None = None,
    place: str | None = None,
) -> Form:
    """Mẫu 07, the tracking book of the dossiers received in ``period`` (by the receiving unit
    ``unit``, or by all); an unknown unit is an :class:`~lienthong.errors.OrganisationError`."""
    if not isinstance(period, Period):
        raise FormError(f"{FORMS['07'].label}: period must be a Period, got {period!r}")
    src = Source(db, org)
    try:
        with snapshot(src.db):
            return mau07(src, period, unit=unit, place=place)
    finally:
        _close(db, src)


def _close(db: Database, src: Source) -> None:
    """Close the connection :class:`Source` opened on a path (not one the caller gave)."""
    if isinstance(db, str | Path):
        src.db.conn.close()


__all__ = [
    "FORMS",
    "Form",
    "FormError",
    "FormNotApplicable",
    "FormSpec",
    "Period",
    "book",
    "build",
    "spec",
    "to_html",
    "to_pdf",
]
