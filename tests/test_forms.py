"""The forms of Circular 03/2025 (Mẫu 01–07) of dossiers built through the Engine
(``forms_support.py`` says how, instant by instant): each form's text has its required fields,
the dossier's code, names (never user ids), Vietnamese dates and no English; each renders to a
PDF whose text says the same (``pdftotext``) on the pages it should; a form the dossier gives no
ground for is refused, naming the form and the dossier; and printing changes nothing stored.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings

from forms_support import (
    APOLOGY_REASON,
    APPLICANT,
    COMMUNE_CLERK,
    COMMUNE_HEAD,
    DESK_CLERK,
    DESK_HEAD,
    REFUSAL_REASON,
    STOP_REASON,
    SUPPLEMENT_REASON,
    WITHDRAW_REASON,
    build_store,
    english_words,
    html_text,
    pdf_text,
    vn_instant,
)
from lienthong import DossierNotFound, FormError, FormNotApplicable, OrganisationError, forms
from lienthong.demo import DEMO_ORG
from lienthong.forms import vn
from lienthong.legaltime.clock import VN_TZ
from lienthong.org import Officer, Organisation
from lienthong.reports import Period
from lienthong.testing import instants, working_durations
from support import COMMUNE, DESK
from support import vn as at

ORG = Organisation.from_file(DEMO_ORG)
NATION = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
#: A5 and A4 in CSS pixels (96 per inch), as WeasyPrint measures its pages.
A5, A4 = (148 / 25.4 * 96, 210 / 25.4 * 96), (210 / 25.4 * 96, 297 / 25.4 * 96)
Store = tuple[Path, dict[str, str]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    path = tmp_path_factory.mktemp("forms") / "forms.db"
    codes = build_store(path)
    yield path, codes


def name(officer: str) -> str:
    return ORG.officer(officer).name


def text(path: Path, number: str, code: str, **kw: object) -> str:
    return html_text(forms.to_html(forms.build(path, number, code, **kw)))


def assert_clean(t: str) -> None:
    """Vietnamese as typed (NFC), no English word, no officer's user id."""
    assert unicodedata.is_normalized("NFC", t)
    assert english_words(t) == []
    assert [o for o in ORG.officers if o in t] == []
    assert all(line in t for line in NATION)


# -- each form's fields --------------------------------------------------------------------------
def test_mau01_has_the_receipt_and_the_first_appointment(
    store: Store,
) -> None:
    path, codes = store
    t = text(path, "01", codes["full"], place="Tân Mẫu")
    assert_clean(t)
    for field in (
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        f"Mã hồ sơ: {codes['full']}",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG TỈNH",  # the receiving unit, in capitals
        "ỦY BAN NHÂN DÂN TỈNH MẪU",  # its parent
        "Số: …………/TNHS",
        "Tân Mẫu, ngày 03 tháng 03 năm 2025",
        f"tiếp nhận hồ sơ của: {APPLICANT['name']}",
        f"Địa chỉ: {APPLICANT['address']}",
        f"Số điện thoại: {APPLICANT['phone']}; Email: {APPLICANT['email']}",
        "Nội dung yêu cầu giải quyết: Liên thông đăng ký khai sinh",
        "Tờ khai đăng ký khai sinh liên thông Bản chính 01",  # a document given with its name
        "giay_chung_sinh",  # one given by its code alone
        "2. Số lượng hồ sơ: 01 (bộ)",
        "3. Thời gian giải quyết hồ sơ theo quy định là: 03 ngày làm việc",
        f"4. Thời gian nhận hồ sơ: {vn_instant(at(2025, 3, 3, 9, 0))}",
        # The first appointment, not the one the supplement or the apology set later.
        f"5. Thời gian trả kết quả giải quyết hồ sơ: {vn_instant(at(2025, 3, 6, 9, 0))}",
        "6. Đăng ký nhận kết quả tại: Trực tiếp",
        "Phí, lệ phí: Không thu",
        "Quyển số: …………, Số thứ tự: …………",
        "NGƯỜI NỘP HỒ SƠ",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        name(DESK_HEAD),
    ):
        assert field in t, field


def test_mau02_has_a_page_per_request_with_the_documents_and_the_reason(
    store: Store,
) -> None:
    path, codes = store
    form = forms.build(path, "02", codes["full"])
    assert len(form.pages) == 1
    t = html_text(forms.to_html(form))
    assert_clean(t)
    for field in (
        "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
        f"Mã hồ sơ: {codes['full']}",
        "BỘ PHẬN TƯ PHÁP – HỘ TỊCH XÃ TÂN MẪU",  # the unit that asked
        "ỦY BAN NHÂN DÂN XÃ TÂN MẪU",
        "Số: …………/HDHS",
        f"Hồ sơ của: {APPLICANT['name']}",
        f"Ngày nhận hồ sơ: {vn_instant(at(2025, 3, 3, 9, 0))}",
        "1 giay_chung_sinh",
        f"Lý do: {SUPPLEMENT_REASON}",
        "tính lại từ đầu sau khi nhận đủ hồ sơ bổ sung",
        f"Thời gian yêu cầu bổ sung: {vn_instant(at(2025, 3, 3, 10, 0))}",
        "NGƯỜI HƯỚNG DẪN",
        name(COMMUNE_CLERK),
    ):
        assert field in t, field
    assert "lần thứ" not in t  # one request: no "lần thứ 1 trong 1 lần"


def test_mau03_has_the_refusal_and_its_reason(store: Store) -> None:
    path, codes = store
    t = text(path, "03", codes["refused"])
    assert_clean(t)
    for field in (
        "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {codes['refused']}",
        "tiếp nhận hồ sơ của: Phạm Minh Khánh",
        f"Thời gian nộp hồ sơ: {vn_instant(at(2025, 3, 10, 14, 0))}",
        "từ chối tiếp nhận, giải quyết hồ sơ này",
        REFUSAL_REASON,
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        name(DESK_CLERK),
        "…………, ngày 10 tháng 03 năm 2025",  # no place given: dots
    ):
        assert field in t, field


def test_mau04_has_the_appointment_missed_the_reason_and_the_new_one(
    store: Store,
) -> None:
    path, codes = store
    t = text(path, "04", codes["full"])
    assert_clean(t)
    head = ORG.officer(COMMUNE_HEAD)
    assert ORG.units[COMMUNE].head == head.id
    for field in (
        "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT",
        f"Mã hồ sơ: {codes['full']}",
        "BỘ PHẬN TƯ PHÁP – HỘ TỊCH XÃ TÂN MẪU",  # the unit at fault
        f"Kính gửi: Ông/Bà {APPLICANT['name']}",
        "Ngày 03 tháng 03 năm 2025, Trung tâm Phục vụ hành chính công tỉnh tiếp nhận",
        # The appointment in force when it apologised: the supplement's restart.
        f"Thời gian hẹn trả kết quả giải quyết hồ sơ: {vn_instant(at(2025, 3, 7, 10, 0))}",
        f"Lý do: {APOLOGY_REASON}",
        f"thời gian hẹn trả kết quả mới: {vn_instant(at(2025, 3, 12, 10, 0))}",
        "không quá một lần",
        "Nơi nhận: - Như trên; - Trung tâm Phục vụ hành chính công tỉnh; - Lưu: VT.",
        head.title.upper(),  # the head signs under their title
        head.name,
        "…………, ngày 05 tháng 03 năm 2025",
    ):
        assert field in t, field


@pytest.mark.parametrize(
    ("which", "signer", "words"),
    [
        ("stopped", DESK_HEAD, ("thông báo dừng giải quyết hồ sơ nêu trên kể từ", STOP_REASON)),
        ("withdrawn", DESK_CLERK, ("Ông/Bà đề nghị rút hồ sơ nêu trên", WITHDRAW_REASON)),
    ],
)
def test_mau05_says_who_stopped_it_and_why(
    store: Store, which: str, signer: str, words: tuple[str, ...]
) -> None:
    path, codes = store
    t = text(path, "05", codes[which])
    assert_clean(t)
    for field in (
        "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {codes[which]}",
        "Kính gửi: Ông/Bà Hoàng Văn Bình",
        vn_instant(at(2025, 3, 11, 10, 0)),
        ORG.officer(signer).title.upper(),
        name(signer),
        *words,
    ):
        assert field in t, field


def test_mau06_has_both_appointments_and_labelled_rows(store: Store) -> None:
    path, codes = store
    form = forms.build(path, "06", codes["full"])
    html = forms.to_html(form)
    t = html_text(html)
    assert_clean(t)
    for field in (
        "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {codes['full']}",
        f"Kèm theo hồ sơ của: {APPLICANT['name']}",
        f"Ngày nhận hồ sơ: {vn_instant(at(2025, 3, 3, 9, 0))}",
        f"(hẹn ban đầu): {vn_instant(at(2025, 3, 6, 9, 0))}",
        f"sau văn bản xin lỗi, {vn_instant(at(2025, 3, 5, 9, 0))}): "
        + vn_instant(at(2025, 3, 12, 10, 0)),
        f"thời hạn tính lại từ đầu: {vn_instant(at(2025, 3, 7, 10, 0))}",
        "Cơ quan (bộ phận) giải quyết hồ sơ: Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu",
        "Cơ quan phối hợp giải quyết hồ sơ: Công an xã Tân Mẫu",
        "TÊN CƠ QUAN",
        "THỜI GIAN GIAO, NHẬN HỒ SƠ",
        "KẾT QUẢ GIẢI QUYẾT HỒ SƠ",
        "GHI CHÚ",
        "Tiếp nhận hồ sơ",
        f"Yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02) {SUPPLEMENT_REASON}",
        "Nhận hồ sơ bổ sung",
        f"Xin lỗi và đề nghị gia hạn thời gian giải quyết (Mẫu 04) {APOLOGY_REASON}",
        "Trả kết quả",
        f"Người giao: {name(DESK_HEAD)}",
        f"Người giao: {name(COMMUNE_CLERK)}",
        f"Người nhận: {APPLICANT['name']}",
        "Hệ thống tự động",  # the plugins' service steps
        "Trước hạn",
    ):
        assert field in t, field
    sheet = form.pages[0]["sheet"]
    # One table row per sheet row; the branch that waited at the join is not one of them.
    assert html.count('<tr class="handoff">') + html.count('<tr class="labelled">') == len(
        sheet.rows
    )
    assert html.count('<tr class="labelled">') == sum(r.event != "handoff" for r in sheet.rows) == 5
    # A handoff always reaches a unit (a join's waiting row would reach nobody: the applicant).
    assert all(r.receiver != "Người nộp hồ sơ" or r.event != "handoff" for r in sheet.rows)
    assert "chờ nhánh" not in t


def test_mau07_is_the_book_of_the_period(store: Store) -> None:
    path, codes = store
    form = forms.book(path, Period.days("2025-03-03", "2025-03-11"), unit=DESK, place="Tân Mẫu")
    t = html_text(forms.to_html(form))
    assert_clean(t)
    lines = form.pages[0]["lines"]
    # Received 3/3 to 11/3: the full one, the refused one, the two stopped; not those of 12/3.
    wanted = [codes[k] for k in ("full", "refused", "stopped", "withdrawn")]
    assert [line["code"] for line in lines] == wanted
    assert [line["n"] for line in lines] == [1, 2, 3, 4]
    for field in (
        "SỔ THEO DÕI HỒ SƠ",
        "Từ ngày 03/03/2025 đến ngày 11/03/2025",
        "Tân Mẫu, ngày 11 tháng 03 năm 2025",
        "Ngày chuyển hồ sơ",
        "Ký nhận",
        "Yêu cầu bổ sung: 03/03/2025",
        "Hẹn lại: 10 giờ 00, 12/03/2025",
        "Không được tiếp nhận",
        "Dừng xử lý",
        "Công dân yêu cầu rút hồ sơ",
        *wanted,
    ):
        assert field in t, field
    assert codes["plain"] not in t and codes["online"] not in t
    empty = forms.book(path, Period.days("2025-04-01", "2025-04-30"))
    assert "Không có hồ sơ nào được tiếp nhận trong kỳ." in html_text(forms.to_html(empty))


# -- PDF ---------------------------------------------------------------------------------------
PAGES = {"01": A5, "02": A5, "03": A5, "04": A4, "05": A4, "06": A4}
SUBJECT = {"01": "full", "02": "full", "03": "refused", "04": "full", "05": "stopped", "06": "full"}


@pytest.mark.parametrize("number", sorted(PAGES))
def test_each_form_renders_to_pdf_on_its_paper(store: Store, number: str, tmp_path: Path) -> None:
    import weasyprint

    path, codes = store
    form = forms.build(path, number, codes[SUBJECT[number]])
    html = forms.to_html(form)
    pages = weasyprint.HTML(string=html).render().pages
    # The slips and the letters fit one page each; the control sheet takes what it needs.
    if number != "06":
        assert len(pages) == 1, f"Mẫu {number}: {len(pages)} pages"
    assert all(
        (round(p.width), round(p.height)) == tuple(round(x) for x in PAGES[number]) for p in pages
    )
    pdf = forms.to_pdf(form, html)
    assert pdf.startswith(b"%PDF-")
    found = pdf_text(pdf, tmp_path)
    if found is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text is not checked")
    assert codes[SUBJECT[number]] in found
    assert form.title.upper() in found.upper()
    assert all(line in found for line in NATION)  # the marks survive the fonts


def test_the_book_renders_on_a4_landscape(store: Store, tmp_path: Path) -> None:
    import weasyprint

    path, codes = store
    form = forms.book(path, Period.days("2025-03-01", "2025-03-31"))
    pages = weasyprint.HTML(string=forms.to_html(form)).render().pages
    assert {(round(p.width), round(p.height)) for p in pages} == {(round(A4[1]), round(A4[0]))}
    found = pdf_text(forms.to_pdf(form), tmp_path)
    if found is not None:
        # A code breaks after a hyphen in its narrow column, and pdftotext joins the two halves
        # without it.
        def squash(x: str) -> str:
            return x.replace("-", "").replace(" ", "")

        assert all(squash(c) in squash(found) for c in codes.values() if c != codes["online"])
        assert "SỔ THEO DÕI HỒ SƠ" in found


# -- refused -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "which", "why"),
    [
        ("01", "online", "is not received yet"),
        ("01", "refused", "was refused at reception"),
        ("02", "plain", "was never asked for a supplement"),
        ("03", "full", "was not refused at reception"),
        ("04", "plain", "has no apology"),
        ("05", "full", "was neither withdrawn nor stopped"),
    ],
)
def test_a_form_the_dossier_gives_no_ground_for_is_refused(
    store: Store, number: str, which: str, why: str
) -> None:
    path, codes = store
    with pytest.raises(FormNotApplicable) as e:
        forms.build(path, number, codes[which])
    assert (
        f"Mẫu {number} (" in str(e.value) and codes[which] in str(e.value) and why in str(e.value)
    )


@pytest.mark.parametrize("number", ["08", "00", "abc", "", "1.5", True, None, 7.0])
def test_an_unknown_form_is_refused(store: Store, number: object) -> None:
    path, codes = store
    with pytest.raises(FormError, match="no such form"):
        forms.build(path, number, codes["full"])  # type: ignore[arg-type]


def test_a_form_number_may_be_written_without_its_zero(store: Store) -> None:
    path, codes = store
    assert (
        forms.build(path, 6, codes["full"]).number
        == forms.build(path, "6", codes["full"]).number
        == "06"
    )


def test_an_unknown_dossier_names_the_form(store: Store) -> None:
    path, _ = store
    with pytest.raises(DossierNotFound, match=r"Mẫu 04 \(Văn bản xin lỗi.*no dossier 'NOPE'"):
        forms.build(path, "04", "NOPE")
    with pytest.raises(FormError, match="a dossier code is required"):
        forms.build(path, "04", "  ")


def test_the_book_is_for_a_period_and_a_known_unit(store: Store) -> None:
    path, codes = store
    with pytest.raises(FormError, match="made for a period"):
        forms.build(path, "07", codes["full"])
    with pytest.raises(FormError, match="must be a Period"):
        forms.book(path, "2025-03")  # type: ignore[arg-type]
    with pytest.raises(OrganisationError, match=r"--unit 'X\.Y'"):
        forms.book(path, Period.days("2025-03-01", "2025-03-31"), unit="X.Y")


def test_printing_changes_nothing_stored(store: Store) -> None:
    path, codes = store
    before = path.read_bytes()
    for number, which in SUBJECT.items():
        forms.build(path, number, codes[which])
    forms.book(path, Period.days("2025-03-01", "2025-03-31"))
    assert path.read_bytes() == before


def test_names_come_from_the_organisation_given(store: Store) -> None:
    path, codes = store
    renamed = ORG.with_entries(
        [Officer(id=DESK_HEAD, name="Trần Thị Mai Anh", unit=DESK, title="Giám đốc Trung tâm")],
        replace=True,
    )
    t = text(path, "05", codes["stopped"], org=renamed)
    assert "Trần Thị Mai Anh" in t and "GIÁM ĐỐC TRUNG TÂM" in t


# -- the Vietnamese of instants, for every instant ----------------------------------------------
@settings(max_examples=200, deadline=None)
@given(instants())
def test_an_instant_reads_back_as_its_minute_in_vietnam(t: datetime) -> None:
    words = vn.instant(t).replace(",", "").split()
    assert (words[1], words[3], words[4], words[6], words[8]) == (
        "giờ",
        "phút",
        "ngày",
        "tháng",
        "năm",
    )
    hour, minute, day, month, year = (int(words[i]) for i in (0, 2, 5, 7, 9))
    local = t.astimezone(VN_TZ)
    assert datetime(year, month, day, hour, minute, tzinfo=VN_TZ) == local.replace(
        second=0, microsecond=0
    )
    # Whatever offset the instant was stored with, the form prints Vietnam's time.
    assert vn.instant(t.astimezone(UTC)) == vn.instant(t)


@settings(max_examples=200, deadline=None)
@given(working_durations(min_minutes=1))
def test_a_deadline_reads_back_as_its_working_minutes(minutes: int) -> None:
    text_ = vn.duration(minutes)
    parts = {"ngày": 480, "giờ": 60, "phút": 1}
    words = text_.replace(" và ", " ").split()
    total = sum(int(n) * parts[u] for n, u in itertools.pairwise(words) if n.isdigit())
    assert total == minutes
    assert text_.endswith("làm việc") or "ngày làm việc" in text_


def test_the_wheel_carries_every_template() -> None:
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["lienthong"]
    package = root / "src" / "lienthong"
    files = [p.relative_to(package).as_posix() for p in (package / "forms" / "templates").iterdir()]
    assert {f"mau{n}.html.j2" for n in forms.FORMS} | {"forms.css"} <= {
        f.split("/")[-1] for f in files
    }
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
