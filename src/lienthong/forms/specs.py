"""The forms of Circular 03/2025/TT-VPCP, Phụ lục I (domain.md §0, §2): their numbers, titles,
paper sizes; and :class:`Form`, one form built for a dossier or a period.

Paper: Circular 01/2018 printed its forms on A5, the tracking book on A4; Circular 03/2025's
sizes were not found (domain.md). The slips a desk hands over the counter (Mẫu 01–03) stay on
A5; the letter and the notice signed by an agency's head (Mẫu 04, 05) are administrative
documents, on A4 as Decree 30/2020 sets for them; the control sheet (Mẫu 06) needs A4's width
for its four columns, and the tracking book (Mẫu 07) A4 landscape for its thirteen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from lienthong.errors import FormError


@attrs.frozen
class FormSpec:
    """One form: its number (``"01"``), title as the circular gives it, the short name a
    message uses, and its page (a CSS ``@page`` size)."""

    number: str
    title: str
    page: str

    @property
    def label(self) -> str:
        """``Mẫu 02 (Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ)``, for messages."""
        return f"Mẫu {self.number} ({self.title})"


FORMS: dict[str, FormSpec] = {
    s.number: s
    for s in (
        FormSpec("01", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "A5"),
        FormSpec("02", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ", "A5"),
        FormSpec("03", "Phiếu từ chối tiếp nhận giải quyết hồ sơ", "A5"),
        FormSpec("04", "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết", "A4"),
        FormSpec("05", "Thông báo dừng giải quyết hồ sơ", "A4"),
        FormSpec("06", "Phiếu kiểm soát quá trình giải quyết hồ sơ", "A4"),
        FormSpec("07", "Sổ theo dõi hồ sơ", "A4 landscape"),
    )
}


def spec(number: object) -> FormSpec:
    """The form ``number`` (``"02"``, ``"2"`` or ``2``); a :class:`FormError` for any other."""
    text = str(number).strip() if isinstance(number, str | int) else ""
    if text.isdigit() and len(text) <= 2:
        text = text.zfill(2)
    found = FORMS.get(text)
    if found is None or isinstance(number, bool):
        raise FormError(
            f"form {number!r}: no such form; the forms of Circular 03/2025 are "
            + ", ".join(f"{n} ({s.title})" for n, s in FORMS.items())
        )
    return found


@attrs.frozen
class Form:
    """A form built from the store, ready to render: its spec, the dossier (``None`` for the
    tracking book) and one mapping per page (Mẫu 02: one page per supplement request)."""

    spec: FormSpec
    dossier: str | None
    pages: tuple[Mapping[str, Any], ...]

    @property
    def number(self) -> str:
        return self.spec.number

    @property
    def title(self) -> str:
        return self.spec.title
