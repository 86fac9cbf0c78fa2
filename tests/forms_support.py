"""The dossiers the form tests print, built through the Engine with a fixed clock, and the
helpers that read a form's text back (from its HTML, and from its PDF with ``pdftotext``).

Every instant is counted by hand on the 2025 calendar (no holiday in March 2025; 08:00–12:00,
13:00–17:00; 480 working minutes a day). The liên thông birth group 233448 has 3 working days.

``full``: received Monday 3/3 09:00 at the counter by Trần Thị Mai, appointment Thursday 6/3
09:00; the desk forwards it at 09:30; at 10:00 the commune (Lương Văn Tiến) asks for a
supplement; it arrives Tuesday 4/3 10:00 and the deadline restarts: Friday 7/3 10:00; on
Wednesday 5/3 09:00 the commune's head apologises and sets Wednesday 12/3 10:00; then every
step is done, an hour apart, and the result returned.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from lienthong import Engine, FixedClock, Organisation
from lienthong.demo import DEMO_ORG
from support import BIRTH_DOCUMENTS, DESK, PROCESSES, FakeAgencies, run_to_end, vn

COMMUNE_CLERK = "luong.van.tien"
COMMUNE_HEAD = "trieu.thi.hanh"
DESK_HEAD = "tran.thi.mai"
DESK_CLERK = "do.quang.vinh"
APPLICANT = {
    "name": "Nguyễn Thị Lan",
    "address": "Thôn Đông, xã Tân Mẫu",
    "phone": "0912345678",
    "email": "lan@example.vn",
}
DOCUMENTS = [
    {
        "code": "to_khai_lien_thong",
        "name": "Tờ khai đăng ký khai sinh liên thông",
        "form": "Bản chính",
    },
    "giay_chung_sinh",
]
SUPPLEMENT_REASON = "Giấy chứng sinh không rõ tên người mẹ"
APOLOGY_REASON = "Cần xác minh thông tin khai sinh với cơ sở y tế"
REFUSAL_REASON = "Hồ sơ không thuộc thẩm quyền giải quyết"
STOP_REASON = "Hồ sơ có dấu hiệu giả mạo giấy tờ"
WITHDRAW_REASON = "Công dân xin rút hồ sơ để bổ sung thông tin"

#: English words a Vietnamese form must not print (the engine's own vocabulary).
ENGLISH = (
    "awaiting", "system", "branch", "pending", "direct", "online", "postal", "none", "null",
    "true", "false", "step", "handoff", "dossier", "supplement", "apology", "unit", "officer",
    "error", "undefined", "todo", "waiting", "join", "gateway", "received", "refused",
)  # fmt: skip


def build_store(path: Path) -> dict[str, str]:
    """The dossiers above and four more, on a fresh database at ``path``; returns their codes
    by name: ``full``, ``refused``, ``stopped``, ``withdrawn``, ``online`` (not yet accepted),
    ``plain`` (received and forwarded, nothing else)."""
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    org = Organisation.from_file(DEMO_ORG)
    engine = Engine(str(path), org=org, clock=clock, plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedures(PROCESSES)
    codes: dict[str, str] = {}
    with engine:
        d = engine.receive(
            "233448",
            applicant=APPLICANT,
            receiving_unit=DESK,
            documents=DOCUMENTS,
            officer=DESK_HEAD,
        )
        codes["full"] = d.code
        [reception] = engine.open_steps(dossier=d.code)
        clock.set(vn(2025, 3, 3, 9, 30))
        engine.complete(d.code, reception.id, DESK_HEAD)
        clock.set(vn(2025, 3, 3, 10, 0))
        engine.request_supplement(
            d.code, officer=COMMUNE_CLERK, missing=["giay_chung_sinh"], reason=SUPPLEMENT_REASON
        )
        clock.set(vn(2025, 3, 4, 10, 0))
        engine.receive_supplement(d.code, officer=DESK_CLERK)
        clock.set(vn(2025, 3, 5, 9, 0))
        engine.apologise(
            d.code,
            officer=COMMUNE_HEAD,
            reason=APOLOGY_REASON,
            new_appointment=vn(2025, 3, 12, 10, 0),
        )
        run_to_end(engine, d.code, clock)

        clock.set(vn(2025, 3, 10, 14, 0))
        r = engine.receive("233448", applicant={"name": "Phạm Minh Khánh"}, receiving_unit=DESK,
                           documents=BIRTH_DOCUMENTS)  # fmt: skip
        codes["refused"] = r.code
        [reception] = engine.open_steps(dossier=r.code)
        engine.complete(
            r.code, reception.id, DESK_CLERK, {"accepted": False, "reason": REFUSAL_REASON}
        )

        for name, by_agency, officer, reason in (
            ("stopped", True, DESK_HEAD, STOP_REASON),
            ("withdrawn", False, DESK_CLERK, WITHDRAW_REASON),
        ):
            clock.set(vn(2025, 3, 11, 9, 0))
            w = engine.receive("233448", applicant={"name": "Hoàng Văn Bình"}, receiving_unit=DESK,
                               documents=BIRTH_DOCUMENTS)  # fmt: skip
            codes[name] = w.code
            clock.set(vn(2025, 3, 11, 10, 0))
            engine.withdraw(w.code, reason=reason, officer=officer, by_agency=by_agency)

        clock.set(vn(2025, 3, 12, 9, 0))
        o = engine.receive("233448", applicant={"name": "Đỗ Thu Hà"}, receiving_unit=DESK,
                           documents=BIRTH_DOCUMENTS, channel=2)  # fmt: skip
        codes["online"] = o.code
        p = engine.receive("233448", applicant={"name": "Vũ Đức Phúc"}, receiving_unit=DESK,
                           documents=BIRTH_DOCUMENTS)  # fmt: skip
        codes["plain"] = p.code
        [reception] = engine.open_steps(dossier=p.code)
        clock.set(vn(2025, 3, 12, 9, 30))
        engine.complete(p.code, reception.id, DESK_CLERK)
    return codes


class _Text(HTMLParser):
    """The text a reader sees: no tags, no style sheet."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        if tag in ("br", "p", "div", "tr", "td", "th", "h1", "section"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of an HTML form, its whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def pdf_text(pdf: bytes, tmp: Path) -> str | None:
    """The text of a PDF by ``pdftotext`` (poppler-utils), whitespace collapsed; ``None`` when
    the tool is not installed."""
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    f = tmp / "form.pdf"
    f.write_bytes(pdf)
    out = subprocess.run([tool, "-enc", "UTF-8", str(f), "-"], check=True, capture_output=True)
    return " ".join(out.stdout.decode("utf-8").split())


def english_words(text: str) -> list[str]:
    """The words of :data:`ENGLISH` in ``text`` (whole words, any case)."""
    found = []
    for w in ENGLISH:
        if re.search(rf"(?<![\w.]){w}(?![\w.])", text, flags=re.IGNORECASE):
            found.append(w)
    return found


def vn_instant(t: datetime) -> str:
    """``09 giờ 00 phút, ngày 03 tháng 03 năm 2025``, written here by hand for the checks."""
    return (
        f"{t.hour:02d} giờ {t.minute:02d} phút, ngày {t.day:02d} tháng {t.month:02d} năm {t.year}"
    )
