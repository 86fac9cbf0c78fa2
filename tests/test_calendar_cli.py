"""``lienthong calendar``: exact output lines, and one-line errors with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from lienthong.cli.calendar import calendar


@pytest.fixture(scope="module")
def main() -> click.Group:
    # A throw-away main command, as the real one attaches the group: main.add_command(calendar).
    @click.group()
    def lienthong() -> None:
        pass

    lienthong.add_command(calendar)
    return lienthong


def run(main: click.Group, *args: str) -> Result:
    return CliRunner().invoke(main, ["calendar", *args])


def ok(main: click.Group, *args: str) -> list[str]:
    result = run(main, *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.splitlines()


def fails(main: click.Group, *args: str) -> str:
    result = run(main, *args)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def overlay(tmp_path: Path, text: str, name: str = "o.toml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


# --- due ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # Received Friday 24/1/2025 16:30, just before Tết, 3 working days.
        (("2025-01-24T16:30", "--days", "3"), "2025-02-05T16:30:00+07:00"),
        # Falls due on the make-up Saturday 26/4/2025.
        (("2025-04-24T10:00", "--days", "2"), "2025-04-26T10:00:00+07:00"),
        # Falls due on the make-up Saturday 10/1/2026 (default overlay).
        (("2026-01-09T10:00:00+07:00", "--days", "1"), "2026-01-10T10:00:00+07:00"),
        # Monday 08:00 + 1 day = Monday 17:00.
        (("2025-02-03T08:00", "--days", "1"), "2025-02-03T17:00:00+07:00"),
        # An offset is honoured: 01:00Z is 08:00 in Hà Nội.
        (("2025-02-03T01:00:00Z", "--days", "1"), "2025-02-03T17:00:00+07:00"),
        # Fractional days and hours: 0.5 day + 1 hour = 300 min from 08:00 => 14:00.
        (("2025-02-03T08:00", "--days", "0.5", "--hours", "1"), "2025-02-03T14:00:00+07:00"),
        # After hours: from the next working instant, Monday 08:00.
        (("2025-02-07T18:30", "--days", "0", "--hours", "2"), "2025-02-10T10:00:00+07:00"),
    ],
)
def test_due(main: click.Group, args: tuple[str, ...], line: str) -> None:
    assert ok(main, "due", *args) == [line]


def test_due_with_overlays_in_order(main: click.Group, tmp_path: Path) -> None:
    worked = overlay(
        tmp_path, '[[working_day]]\ndate = "2026-11-24"\nname = "Làm việc"\n', "worked.toml"
    )
    off = overlay(tmp_path, '[[day_off]]\ndate = "2026-11-24"\nname = "Nghỉ"\n', "off.toml")
    # The package lists 24/11/2026 as a day off: Mon 23/11 10:00 + 1 day => Wed 25/11 10:00.
    assert ok(main, "due", "2026-11-23T10:00", "--days", "1") == ["2026-11-25T10:00:00+07:00"]
    assert ok(main, "due", "2026-11-23T10:00", "--days", "1", "--calendar", worked) == [
        "2026-11-24T10:00:00+07:00"
    ]
    args = ("due", "2026-11-23T10:00", "--days", "1")
    assert ok(main, *args, "--calendar", worked, "--calendar", off) == ["2026-11-25T10:00:00+07:00"]
    assert ok(main, *args, "--calendar", off, "--calendar", worked) == ["2026-11-24T10:00:00+07:00"]


# --- between ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "line"),
    [
        ("2025-01-24T16:30", "2025-02-05T16:30", "1440"),
        ("2025-01-24T16:30", "2025-02-03T09:00", "90"),
        ("2025-02-03T11:00+07:00", "2025-02-03T14:00+07:00", "120"),
        ("2025-02-03T14:00", "2025-02-03T11:00", "0"),
    ],
)
def test_between(main: click.Group, start: str, end: str, line: str) -> None:
    assert ok(main, "between", start, end) == [line]


# --- show ---------------------------------------------------------------------------------------


def test_show_2026(main: click.Group) -> None:
    assert ok(main, "show", "2026") == [
        "Ngày nghỉ trong tuần (weekdays off), 2026: 14",
        "  2026-01-01  Thứ Năm   Tết Dương lịch",
        "  2026-01-02  Thứ Sáu   Nghỉ Tết Dương lịch (hoán đổi, làm bù thứ Bảy 10/01/2026)",
        "  2026-02-16  Thứ Hai   Giao thừa Tết Nguyên Đán",
        "  2026-02-17  Thứ Ba    Tết Nguyên Đán",
        "  2026-02-18  Thứ Tư    Mùng hai Tết Nguyên Đán",
        "  2026-02-19  Thứ Năm   Mùng ba Tết Nguyên Đán",
        "  2026-02-20  Thứ Sáu   Mùng bốn Tết Nguyên Đán",
        "  2026-04-27  Thứ Hai   Ngày Giỗ Tổ Hùng Vương (nghỉ bù)",
        "  2026-04-30  Thứ Năm   Ngày Chiến thắng",
        "  2026-05-01  Thứ Sáu   Ngày Quốc tế Lao động",
        "  2026-08-31  Thứ Hai   Ngày nghỉ (thay cho ngày 22/08/2026)",
        "  2026-09-01  Thứ Ba    Quốc khánh",
        "  2026-09-02  Thứ Tư    Quốc khánh",
        "  2026-11-24  Thứ Ba    Ngày Văn hóa Việt Nam",
        "Ngày làm bù cuối tuần (weekend days worked), 2026: 2",
        "  2026-01-10  Thứ Bảy   Làm bù cho ngày 02/01/2026",
        "  2026-08-22  Thứ Bảy   Làm bù cho ngày 31/08/2026",
    ]


def test_show_with_overlay(main: click.Group, tmp_path: Path) -> None:
    p = overlay(
        tmp_path,
        '[[working_day]]\ndate = "2026-11-24"\nname = "Làm việc"\n\n'
        '[[working_day]]\ndate = 2026-12-05\nname = "Làm bù cuối năm"\n',
    )
    lines = ok(main, "show", "2026", "--calendar", p)
    assert lines[0] == "Ngày nghỉ trong tuần (weekdays off), 2026: 13"
    assert not any("2026-11-24" in line for line in lines)
    assert lines[-3:] == [
        "  2026-01-10  Thứ Bảy   Làm bù cho ngày 02/01/2026",
        "  2026-08-22  Thứ Bảy   Làm bù cho ngày 31/08/2026",
        "  2026-12-05  Thứ Bảy   Làm bù cuối năm",
    ]


# --- errors -------------------------------------------------------------------------------------


def test_bad_date(main: click.Group) -> None:
    line = fails(main, "due", "2025-13-01T08:00", "--days", "1")
    assert "START '2025-13-01T08:00' is not an ISO 8601 date-time" in line
    assert "END 'tomorrow'" in fails(main, "between", "2025-01-02T08:00", "tomorrow")


def test_naive_is_vietnam_time_but_out_of_range_years_fail(main: click.Group) -> None:
    assert "1995" in fails(main, "due", "1990-01-02T08:00", "--days", "1")
    assert "1995" in fails(main, "show", "1990")


@pytest.mark.parametrize(
    ("durations", "option"),
    [(("--days", "-1"), "--days"), (("--days", "1", "--hours", "-1"), "--hours")],
)
def test_negative_duration(main: click.Group, durations: tuple[str, ...], option: str) -> None:
    line = fails(main, "due", "2025-01-02T08:00", *durations)
    assert line == f"Error: {option} must not be negative, got -1"


def test_not_a_number(main: click.Group) -> None:
    assert "finite" in fails(main, "due", "2025-01-02T08:00", "--days", "nan")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[day_off]\n", "not valid TOML"),
        ('[[day_off]]\ndate = "2026-02-30"\nname = "x"\n', "[[day_off]] entry 1: 'date'"),
        ('[[day_off]]\ndate = "2026-01-05"\nname = "x"\nwhy = 1\n', "unknown key 'why'"),
        ('[hours]\nperiods = [["08:00", "12:00"], ["11:00", "17:00"]]\n', "overlaps"),
    ],
)
def test_malformed_overlay(main: click.Group, tmp_path: Path, text: str, fragment: str) -> None:
    p = overlay(tmp_path, text, "bad.toml")
    for args in (
        ("due", "2025-01-02T08:00", "--days", "1"),
        ("between", "2025-01-02T08:00", "2025-01-03T08:00"),
        ("show", "2025"),
    ):
        line = fails(main, *args, "--calendar", p)
        assert line.startswith(f"Error: {p}: ")
        assert fragment in line


def test_missing_overlay_file(main: click.Group, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.toml")
    line = fails(main, "show", "2025", "--calendar", missing)
    assert line == f"Error: {missing}: calendar overlay file not found"
