"""``lienthong report``: each kind in each format on a short demo's database (CSV parses, JSON
has the issue's keys, the workbook opens with openpyxl and has Vietnamese headers), and bad
input is one line, a non-zero exit status, and the file unchanged."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from lienthong.cli import main
from lienthong.demo import run_demo

KINDS = ("officers", "units", "returned", "apologies", "period")
KEYS = {
    "officers": {
        "officer",
        "name",
        "unit",
        "steps",
        "early",
        "on_time",
        "late",
        "overdue",
        "late_minutes",
        "escalations",
    },
    "units": {
        "unit",
        "name",
        "steps",
        "early",
        "on_time",
        "late",
        "overdue",
        "late_minutes",
        "escalations",
        "late_dossiers",
        "coordinating",
    },
    "returned": {"dossier", "times", "requests"},
    "apologies": {"dossier", "unit_at_fault", "required_at", "issued_at", "late", "missing"},
    "period": {
        "received",
        "online",
        "resolved_early",
        "resolved_on_time",
        "resolved_late",
        "carried_over",
        "direct",
        "postal",
        "in_progress_on_time",
        "in_progress_overdue",
        "withdrawn",
        "stopped",
        "refused",
        "on_time_rate",
        "kpi_on_time_rate",
        "online_share",
        "resolved_late_apologised",
    },
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    result = run_demo(path, dossiers=40, weeks=2, out=lambda _line: None)
    result.engine.close()
    yield str(path)


def run(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["report", *args])
    return out.exit_code, out.output


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_json_has_the_keys(db: str, kind: str) -> None:
    code, out = run(kind, "--db", db, "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    if kind == "period":
        assert KEYS[kind] <= set(data)
    else:
        assert isinstance(data, list)
        if kind in ("officers", "units"):
            assert data
        for row in data:
            assert KEYS[kind] <= set(row)


@pytest.mark.parametrize("kind", KINDS)
def test_csv_parses_with_a_header_of_keys(db: str, kind: str) -> None:
    code, out = run(kind, "--db", db, "--format", "csv", "--from", "2026-02-02")
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    if kind == "officers":
        assert rows and {"officer", "steps", "late"} <= set(rows[0])
        assert sum(int(r["steps"]) for r in rows) > 0
    if kind == "period":
        assert {r["figure"] for r in rows} >= {"received", "online", "resolved_late"}


def test_csv_agrees_with_json(db: str) -> None:
    data = json.loads(run("units", "--db", db, "--format", "json")[1])
    rows = list(csv.DictReader(io.StringIO(run("units", "--db", db, "--format", "csv")[1])))
    assert [(r["unit"], int(r["steps"]), int(r["late"])) for r in rows] == [
        (d["unit"], d["steps"], d["late"]) for d in data
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_opens_with_vietnamese_headers(db: str, kind: str, tmp_path: Path) -> None:
    out = tmp_path / f"{kind}.xlsx"
    code, text = run(kind, "--db", db, "--format", "xlsx", "--out", str(out))
    assert code == 0, text
    ws = openpyxl.load_workbook(out).active
    vi = [c.value for c in ws[1]]
    en = [c.value for c in ws[2]]
    expected = {
        "officers": ("Mã cán bộ", "Quá hạn"),
        "units": ("Mã đơn vị", "Trước hạn"),
        "returned": ("Mã hồ sơ", "Số lần yêu cầu bổ sung"),
        "apologies": ("Mã hồ sơ", "Đơn vị gây trễ"),
        "period": ("Chỉ tiêu", "Giá trị"),
    }
    assert set(expected[kind]) <= set(vi)
    assert "late" in en or "value" in en or "dossier" in en
    if kind == "officers":
        assert ws.max_row > 2


def test_the_table_has_names_and_vietnamese_headers(db: str) -> None:
    code, out = run("officers", "--db", db)
    assert code == 0
    assert "Quá hạn" in out and "(late)" in out and "Trung tâm" in out and "Lê Văn Hùng" in out


def test_out_writes_the_file_and_the_database_is_unchanged(db: str, tmp_path: Path) -> None:
    before = digest(db)
    out = tmp_path / "p.json"
    code, text = run("period", "--db", db, "--format", "json", "--out", str(out))
    assert code == 0 and text == ""
    assert (
        json.loads(out.read_text(encoding="utf-8"))["received"]
        == 40 - json.loads(out.read_text(encoding="utf-8"))["refused"]
    )
    assert digest(db) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("units", "--from", "2026-02-30"), "--from '2026-02-30': expected a date YYYY-MM-DD"),
        (("units", "--to", "March"), "--to 'March'"),
        (("period", "--from", "2026-03-01", "--to", "2026-02-01"), "is after --to 2026-02-01"),
        (("officers", "--unit", "000.99.99.H29"), "--unit '000.99.99.H29': no such unit"),
        (("returned", "--procedure", "nope"), "--procedure 'nope': no such procedure"),
        (("units", "--format", "xlsx"), "--format xlsx writes a file: give it with --out"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    db: str, args: tuple[str, ...], message: str
) -> None:
    before = digest(db)
    code, out = run(*args, "--db", db)
    assert code == 1
    assert out.strip().splitlines() == [f"Error: {out.strip()[7:]}"]
    assert message in out and "Traceback" not in out
    assert digest(db) == before


def test_an_unknown_kind_is_a_usage_error(db: str) -> None:
    code, out = run("late", "--db", db)
    assert code == 2 and "'late' is not one of" in out and "Traceback" not in out


def test_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    code, out = run("units", "--db", str(tmp_path / "none.db"))
    assert code == 1 and "no such database file" in out
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all" * 100)
    code, out = run("units", "--db", str(other))
    assert code == 1 and "not a lienthong database" in out
    assert other.read_bytes() == b"not a database at all" * 100
