"""``lienthong form NN CODE``: each form to HTML (a file or standard output) and to PDF, the
tracking book for a period, and every bad input in one line with a non-zero exit status; the
database is read, never written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms_support import build_store, english_words, html_text, pdf_text
from lienthong.cli import main
from support import DESK

Store = tuple[Path, dict[str, str]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("forms-cli") / "forms.db"
    yield path, build_store(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_form_to_standard_output_as_html(store: Store) -> None:
    path, codes = store
    status, out, _ = run("form", "04", codes["full"], "--db", str(path), "--place", "Tân Mẫu")
    assert status == 0
    assert out.startswith("<!DOCTYPE html>")
    text = html_text(out)
    assert codes["full"] in text and "Tân Mẫu, ngày 05 tháng 03 năm 2025" in text
    assert "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT" in text
    assert english_words(text) == []


@pytest.mark.parametrize("number", ["1", "02", "06"])
def test_a_form_to_a_pdf_file(store: Store, tmp_path: Path, number: str) -> None:
    path, codes = store
    out = tmp_path / "form.pdf"  # the format follows the file's suffix
    status, _, err = run("form", number, codes["full"], "--db", str(path), "--out", str(out))
    assert status == 0, err
    assert f"Wrote {out}" in err
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    found = pdf_text(pdf, tmp_path)
    if found is not None:
        assert codes["full"] in found


def test_html_to_a_file_and_the_book_of_a_period(store: Store, tmp_path: Path) -> None:
    path, codes = store
    out = tmp_path / "book.html"
    status, _, err = run(
        "form", "07", "--db", str(path), "--from", "2025-03-10", "--to", "2025-03-11",
        "--unit", DESK, "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    text = html_text(out.read_text(encoding="utf-8"))
    assert "SỔ THEO DÕI HỒ SƠ" in text and "Từ ngày 10/03/2025 đến ngày 11/03/2025" in text
    assert codes["refused"] in text and codes["stopped"] in text and codes["full"] not in text
    status, _, _ = run(
        "form", "07", "--db", str(path), "--from", "2025-03-10", "--to", "2025-03-11",
        "--format", "pdf", "--out", str(tmp_path / "book"),
    )  # fmt: skip
    assert status == 0 and (tmp_path / "book").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("form", "08", "X"), "form '08': no such form"),
        (("form", "02", "NOPE"), "Mẫu 02 (Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ): no dossier"),
        (("form", "03", "{full}"), "was not refused at reception"),
        (("form", "05", "{plain}"), "was neither withdrawn nor stopped"),
        (("form", "07", "--from", "2025-03-01", "--to", "2025-02-01"), "is after --to"),
        (("form", "07", "--from", "2025-03-01", "--to", "2025-03-31", "--unit", "X"), "--unit 'X'"),
        (("form", "07", "--from", "2025-02-30", "--to", "2025-03-31"), "expected a date"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_1(
    store: Store, args: tuple[str, ...], message: str
) -> None:
    path, codes = store
    before = path.read_bytes()
    argv = [a.format(**codes) for a in args]
    status, out, err = run(*argv, "--db", str(path))
    assert status == 1
    assert out == "" and err.startswith("Error: ") and err.count("\n") == 1, err
    assert message in err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("form", "07", "{full}", "--from", "2025-03-01", "--to", "2025-03-31"), "not CODE"),
        (("form", "06"), "give its CODE"),
        (("form", "06", "{full}", "--from", "2025-03-01"), "are for Mẫu 07"),
        (("form", "07", "--from", "2025-03-01"), "--from DATE and --to DATE"),
        (("form", "06", "{full}", "--format", "pdf"), "give it with --out FILE"),
        (("form", "06", "{full}", "--format", "docx"), "'docx' is not one of"),
    ],
)
def test_usage_errors_exit_2(store: Store, args: tuple[str, ...], message: str) -> None:
    path, codes = store
    status, _, err = run(*[a.format(**codes) for a in args], "--db", str(path))
    assert status == 2 and message in err, err


def test_a_file_that_is_not_a_lienthong_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all")
    status, _, err = run("form", "06", "X", "--db", str(other))
    assert status == 1 and "not a lienthong database" in err
    assert other.read_bytes() == b"not a database at all"
    status, _, err = run("form", "06", "X", "--db", str(tmp_path / "missing.db"))
    assert status == 1 and "no such database file" in err
    assert not (tmp_path / "missing.db").exists()


def test_an_unwritable_output_is_one_line(store: Store, tmp_path: Path) -> None:
    path, codes = store
    status, _, err = run(
        "form", "06", codes["full"], "--db", str(path), "--out", str(tmp_path / "no" / "x.html")
    )
    assert status == 1 and err.startswith("Error: ") and "x.html" in err
