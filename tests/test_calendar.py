"""Worked examples of the working calendar, each computed by hand in its comment."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import holidays
import pytest

from lienthong.errors import CalendarError
from lienthong.legaltime.calendar import (
    MAX_YEAR,
    MIN_YEAR,
    Overlay,
    OverlayDay,
    WorkingCalendar,
    default_overlay,
)
from lienthong.legaltime.clock import VN_TZ, Clock, FixedClock, SystemClock


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.default()


def write(tmp_path: Path, text: str, name: str = "overlay.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --- the clock ---------------------------------------------------------------------------------


def test_system_clock_is_aware_and_in_vietnam() -> None:
    now = SystemClock().now()
    assert now.tzinfo is VN_TZ
    assert isinstance(SystemClock(), Clock)


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2025, 1, 24, 9, 30, tzinfo=UTC))
    assert isinstance(clock, Clock)
    assert clock.now() == vn(2025, 1, 24, 16, 30)
    assert clock.now().tzinfo is VN_TZ
    assert clock.advance(hours=1, minutes=15) == vn(2025, 1, 24, 17, 45)
    assert clock.now() == vn(2025, 1, 24, 17, 45)
    clock.set(vn(2025, 1, 1, 8))
    assert clock.now() == vn(2025, 1, 1, 8)


def test_fixed_clock_refuses_naive_and_backwards() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2025, 1, 1, 8))
    clock = FixedClock(vn(2025, 1, 1, 8))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2025, 1, 1, 9))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(minutes=-1)


# --- working days from the package and the default overlay ------------------------------------


def test_tet_2025_days_off(cal: WorkingCalendar) -> None:
    # Tết Ất Tỵ: Saturday 25/1 to Sunday 2/2/2025; the weekdays 27–31/1 are off.
    tet = [d for d, _ in cal.days_off(2025) if d.month == 1 and d.day > 1]
    assert tet == [date(2025, 1, d) for d in (27, 28, 29, 30, 31)]
    assert cal.is_working_day(date(2025, 1, 24))
    assert cal.is_working_day(date(2025, 2, 3))


def test_days_off_and_weekend_workdays_2025(cal: WorkingCalendar) -> None:
    assert cal.days_off(2025) == [
        (date(2025, 1, 1), "Tết Dương lịch"),
        (date(2025, 1, 27), "29 Tết"),
        (date(2025, 1, 28), "Giao thừa Tết Nguyên Đán"),
        (date(2025, 1, 29), "Tết Nguyên Đán"),
        (date(2025, 1, 30), "Mùng hai Tết Nguyên Đán"),
        (date(2025, 1, 31), "Mùng ba Tết Nguyên Đán"),
        (date(2025, 4, 7), "Ngày Giỗ Tổ Hùng Vương"),
        (date(2025, 4, 30), "Ngày Chiến thắng"),
        (date(2025, 5, 1), "Ngày Quốc tế Lao động"),
        (date(2025, 5, 2), "Ngày nghỉ (thay cho ngày 26/04/2025)"),
        (date(2025, 9, 1), "Quốc khánh"),
        (date(2025, 9, 2), "Quốc khánh"),
    ]
    assert cal.weekend_workdays(2025) == [(date(2025, 4, 26), "Làm bù cho ngày 02/05/2025")]


def test_2026_new_year_swap_comes_from_the_default_overlay(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2026, 1, 2))  # Friday, off
    assert cal.is_working_day(date(2026, 1, 10))  # Saturday, worked
    assert cal.weekend_workdays(2026) == [
        (date(2026, 1, 10), "Làm bù cho ngày 02/01/2026"),
        (date(2026, 8, 22), "Làm bù cho ngày 31/08/2026"),
    ]
    bare = WorkingCalendar(base_default=False)
    assert bare.is_working_day(date(2026, 1, 2))
    assert not bare.is_working_day(date(2026, 1, 10))


def test_2026_package_days(cal: WorkingCalendar) -> None:
    off = dict(cal.days_off(2026))
    # Tết Bính Ngọ 14–22/2: the weekdays 16–20/2.
    assert [d for d in off if d.month == 2] == [date(2026, 2, d) for d in range(16, 21)]
    # Giỗ Tổ on Sunday 26/4 => Monday 27/4 off.
    assert off[date(2026, 4, 27)] == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    assert off[date(2026, 8, 31)] == "Ngày nghỉ (thay cho ngày 22/08/2026)"
    # Kept as the package has it (see docs/calendar.md): a deployment may override it.
    assert off[date(2026, 11, 24)] == "Ngày Văn hóa Việt Nam"


def test_default_overlay_entries_have_sources_and_are_still_needed() -> None:
    ov = default_overlay()
    assert ov.days_off and ov.working_days
    package = holidays.VN(years=range(MIN_YEAR, 2031), language="vi")
    for entry in (*ov.days_off, *ov.working_days):
        assert entry.source.strip(), entry
        wanted = entry in ov.working_days
        if package.is_working_day(entry.day) == wanted:
            warnings.warn(
                f"holidays {holidays.__version__} now has {entry.day}: remove it from "
                "vn-default.toml",
                stacklevel=1,
            )


def test_day_names_do_not_depend_on_the_locale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGUAGE", "en_US")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert WorkingCalendar().days_off(2025)[0] == (date(2025, 1, 1), "Tết Dương lịch")


# --- adding working time ------------------------------------------------------------------------


def test_received_just_before_tet_2025(cal: WorkingCalendar) -> None:
    # Fri 24/1 16:30 + 3 days (1440 min): 30 min on Friday, Tết 25/1–2/2, Mon 3/2 (480),
    # Tue 4/2 (480), Wed 5/2: 450 min = 08:00–12:00 (240) + 13:00–16:30 (210).
    received = vn(2025, 1, 24, 16, 30)
    due = cal.add(received, days=3)
    assert due == vn(2025, 2, 5, 16, 30)
    assert due.tzinfo is VN_TZ
    assert cal.between(received, due) == 3 * 480
    # 90 working minutes from Friday 16:30 to Monday 3/2 09:00: 30 + 60.
    assert cal.between(received, vn(2025, 2, 3, 9)) == 90


def test_tet_2024(cal: WorkingCalendar) -> None:
    # Wed 7/2/2024 10:00 + 1 day: Tết 8–14/2 (with the weekend 10–11/2) => Thu 15/2 10:00.
    assert cal.add(vn(2024, 2, 7, 10), days=1) == vn(2024, 2, 15, 10)


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        # Thu 24/4/2025 10:00 + 2 days: Fri 25/4 10:00, then the make-up Saturday 26/4 10:00.
        (vn(2025, 4, 24, 10), 2, vn(2025, 4, 26, 10)),
        # Fri 25/4/2025 08:00 + 2 days: Fri 17:00, then all of Saturday 26/4: due 17:00.
        (vn(2025, 4, 25, 8), 2, vn(2025, 4, 26, 17)),
        # Fri 9/1/2026 10:00 + 1 day: the make-up Saturday 10/1/2026 (default overlay) 10:00.
        (vn(2026, 1, 9, 10), 1, vn(2026, 1, 10, 10)),
        # Fri 21/8/2026 14:00 + 1 day: Saturday 22/8/2026 14:00 (make-up day in the package).
        (vn(2026, 8, 21, 14), 1, vn(2026, 8, 22, 14)),
        # Sat 26/4/2025 is itself a working day: received 09:00, 1 day => Mon 28/4 09:00.
        (vn(2025, 4, 26, 9), 1, vn(2025, 4, 28, 9)),
        # Tue 29/4/2025 09:00 + 1 day: 30/4, 1/5, 2/5 off, 3–4/5 weekend => Mon 5/5 09:00.
        (vn(2025, 4, 29, 9), 1, vn(2025, 5, 5, 9)),
    ],
)
def test_make_up_saturdays(
    cal: WorkingCalendar, received: datetime, days: int, due: datetime
) -> None:
    assert cal.add(received, days=days) == due


def test_end_of_period_landing(cal: WorkingCalendar) -> None:
    monday = vn(2025, 3, 10, 8)
    assert cal.add(monday, days=1) == vn(2025, 3, 10, 17)  # not Tuesday 08:00
    assert cal.add(monday, hours=4) == vn(2025, 3, 10, 12)  # not 13:00
    assert cal.add(monday, days=0.5) == vn(2025, 3, 10, 12)
    assert cal.add(monday, days=2) == vn(2025, 3, 11, 17)
    assert cal.add(monday, days=1, minutes=1) == vn(2025, 3, 11, 8, 1)
    # Counting on from a due instant at the end of a period continues seamlessly.
    assert cal.add(vn(2025, 3, 10, 17), days=1) == vn(2025, 3, 11, 17)
    assert cal.add(vn(2025, 3, 10, 12), hours=1) == vn(2025, 3, 10, 14)


@pytest.mark.parametrize(
    ("start", "kwargs", "due"),
    [
        # Fri 7/3/2025 18:30: counts from Mon 10/3 08:00.
        (vn(2025, 3, 7, 18, 30), {"days": 1}, vn(2025, 3, 10, 17)),
        # Saturday: counts from Monday 08:00.
        (vn(2025, 3, 8, 10), {"hours": 2}, vn(2025, 3, 10, 10)),
        # Before opening: from 08:00.
        (vn(2025, 3, 11, 7, 15), {"hours": 2}, vn(2025, 3, 11, 10)),
        # Lunch break: from 13:00.
        (vn(2025, 3, 11, 12, 30), {"hours": 1}, vn(2025, 3, 11, 14)),
        # Exactly 17:00: nothing left that day.
        (vn(2025, 3, 11, 17), {"minutes": 30}, vn(2025, 3, 12, 8, 30)),
        # Friday 24/1/2025 at 17:05, before Tết: from Mon 3/2 08:00.
        (vn(2025, 1, 24, 17, 5), {"days": 1}, vn(2025, 2, 3, 17)),
    ],
)
def test_start_outside_working_time(
    cal: WorkingCalendar, start: datetime, kwargs: dict[str, float], due: datetime
) -> None:
    assert cal.add(start, **kwargs) == due


def test_zero_duration_is_the_next_working_instant(cal: WorkingCalendar) -> None:
    assert cal.add(vn(2025, 3, 11, 12, 30)) == vn(2025, 3, 11, 13)
    assert cal.add_minutes(vn(2025, 3, 11, 9, 10), 0) == vn(2025, 3, 11, 9, 10)


def test_next_working_instant(cal: WorkingCalendar) -> None:
    t = vn(2025, 3, 11, 9, 10, 30)
    assert cal.next_working_instant(t) == t
    assert cal.next_working_instant(vn(2025, 3, 11, 12)) == vn(2025, 3, 11, 13)
    assert cal.next_working_instant(vn(2025, 3, 14, 17)) == vn(2025, 3, 17, 8)
    assert cal.next_working_instant(vn(2025, 1, 24, 23, 59)) == vn(2025, 2, 3, 8)
    assert cal.next_working_instant(vn(2025, 4, 25, 18)) == vn(2025, 4, 26, 8)  # make-up Sat


def test_is_working_time(cal: WorkingCalendar) -> None:
    assert cal.is_working_time(vn(2025, 3, 11, 8))
    assert cal.is_working_time(vn(2025, 3, 11, 11, 59, 59))
    assert not cal.is_working_time(vn(2025, 3, 11, 12))
    assert not cal.is_working_time(vn(2025, 3, 11, 17))
    assert not cal.is_working_time(vn(2025, 3, 11, 7, 59))
    assert not cal.is_working_time(vn(2025, 1, 28, 10))  # Tết
    assert cal.is_working_time(vn(2025, 4, 26, 10))  # make-up Saturday


def test_other_zones_are_converted(cal: WorkingCalendar) -> None:
    # 01:00 UTC is 08:00 in Hà Nội.
    due = cal.add(datetime(2025, 3, 10, 1, tzinfo=UTC), days=1)
    assert due == vn(2025, 3, 10, 17)
    assert due.tzinfo is VN_TZ
    assert due.isoformat() == "2025-03-10T17:00:00+07:00"


def test_seconds_are_floored(cal: WorkingCalendar) -> None:
    assert cal.add(vn(2025, 3, 10, 8, 0, 59), minutes=60) == vn(2025, 3, 10, 9)
    assert cal.between(vn(2025, 3, 10, 8, 0, 59), vn(2025, 3, 10, 8, 1, 30)) == 1


@pytest.mark.parametrize(
    ("kwargs", "minutes"),
    [
        ({"days": 0.1}, 48),
        ({"days": 1.5}, 720),
        ({"hours": 0.0125}, 1),  # 0.75 min rounds up
        ({"minutes": 0.5}, 1),  # half a minute rounds up
        ({"minutes": 0.4}, 0),
        ({"days": 1, "hours": 2, "minutes": 3}, 603),
    ],
)
def test_rounding(cal: WorkingCalendar, kwargs: dict[str, float], minutes: int) -> None:
    start = vn(2025, 3, 10, 9)
    assert cal.between(start, cal.add(start, **kwargs)) == minutes


def test_long_durations_cross_years(cal: WorkingCalendar) -> None:
    start = vn(2025, 3, 10, 9)
    due = cal.add(start, days=200)
    assert due.year == 2025
    assert cal.between(start, due) == 200 * 480
    far = cal.add(start, days=2000)
    assert cal.between(start, far) == 2000 * 480
    assert cal.add(vn(1995, 1, 3, 8), days=1) == vn(1995, 1, 3, 17)
    assert cal.between(vn(MIN_YEAR, 1, 1), vn(MAX_YEAR, 12, 31)) > 100 * 240 * 480


def test_subtract(cal: WorkingCalendar) -> None:
    # One working day before Tuesday 17:00 is Monday 17:00 (not Tuesday 08:00).
    assert cal.subtract(vn(2025, 3, 11, 17), days=1) == vn(2025, 3, 10, 17)
    # One working day before Wed 5/2/2025 16:30 is Tue 4/2 16:30; three, Fri 24/1 16:30.
    assert cal.subtract(vn(2025, 2, 5, 16, 30), days=1) == vn(2025, 2, 4, 16, 30)
    assert cal.subtract(vn(2025, 2, 5, 16, 30), days=3) == vn(2025, 1, 24, 16, 30)


def test_negative_durations_are_refused(cal: WorkingCalendar) -> None:
    for kwargs in ({"days": -1}, {"hours": -0.5}, {"minutes": -1}, {"days": float("nan")}):
        with pytest.raises(CalendarError):
            cal.add(vn(2025, 3, 10, 9), **kwargs)
    with pytest.raises(CalendarError, match="negative"):
        cal.add_minutes(vn(2025, 3, 10, 9), -5)


def test_naive_and_out_of_range_instants_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError, match="naive"):
        cal.add(datetime(2025, 3, 10, 9), days=1)
    with pytest.raises(CalendarError, match="naive"):
        cal.between(datetime(2025, 3, 10, 9), vn(2025, 3, 11, 9))
    with pytest.raises(CalendarError, match="naive"):
        cal.is_working_time(datetime(2025, 3, 10, 9))
    with pytest.raises(CalendarError, match="1995"):
        cal.add(vn(1994, 6, 1, 9), days=1)
    with pytest.raises(CalendarError, match="2100"):
        cal.add(vn(2100, 12, 20, 9), days=30)
    with pytest.raises(CalendarError, match="2100"):
        cal.days_off(2101)


def test_between(cal: WorkingCalendar) -> None:
    assert cal.between(vn(2025, 3, 10, 8), vn(2025, 3, 10, 17)) == 480
    assert cal.between(vn(2025, 3, 10, 11), vn(2025, 3, 10, 14)) == 120
    assert cal.between(vn(2025, 3, 10, 14), vn(2025, 3, 10, 11)) == 0
    assert cal.between(vn(2025, 3, 8, 0), vn(2025, 3, 9, 23)) == 0  # a weekend


# --- same-day procedures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (vn(2025, 3, 6, 14, 59), vn(2025, 3, 6, 17)),  # before 15:00: the same day
        (vn(2025, 3, 6, 7, 0), vn(2025, 3, 6, 17)),  # before opening, same day
        (vn(2025, 3, 6, 12, 30), vn(2025, 3, 6, 17)),  # lunch break, same day
        (vn(2025, 3, 6, 15, 0), vn(2025, 3, 7, 17)),  # 15:00 itself: the next working day
        (vn(2025, 3, 7, 15, 30), vn(2025, 3, 10, 17)),  # Friday afternoon: Monday
        (vn(2025, 3, 8, 10, 0), vn(2025, 3, 10, 17)),  # Saturday: Monday
        (vn(2025, 1, 24, 14, 0), vn(2025, 1, 24, 17)),  # just before Tết, in time
        (vn(2025, 1, 24, 15, 1), vn(2025, 2, 3, 17)),  # just before Tết, too late
        (vn(2025, 4, 25, 16, 0), vn(2025, 4, 26, 17)),  # next day is a make-up Saturday
    ],
)
def test_same_day_due(cal: WorkingCalendar, received: datetime, due: datetime) -> None:
    assert cal.same_day_due(received) == due


# --- overlays -----------------------------------------------------------------------------------


def test_overlay_overrides_the_package_both_ways(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        [[working_day]]
        date = "2026-11-24"
        name = "Ngày Văn hóa Việt Nam: làm việc (chưa có văn bản)"
        source = "test"

        [[day_off]]
        date = 2026-08-22
        name = "Không làm bù (thử nghiệm)"
        """,
    )
    cal = WorkingCalendar.from_files(p)
    # A day the package lists as a holiday is declared a working day...
    assert cal.is_working_day(date(2026, 11, 24))
    assert date(2026, 11, 24) not in dict(cal.days_off(2026))
    assert cal.add(vn(2026, 11, 23, 10), days=1) == vn(2026, 11, 24, 10)
    # ...and a make-up Saturday of the package is declared a day off.
    assert not cal.is_working_day(date(2026, 8, 22))
    assert cal.weekend_workdays(2026) == [(date(2026, 1, 10), "Làm bù cho ngày 02/01/2026")]
    # Fri 21/8 14:00 + 1 day: 180 min on Friday, Sat 22/8 now off, Mon 24/8 08:00 + 300 min.
    assert cal.add(vn(2026, 8, 21, 14), days=1) == vn(2026, 8, 24, 14)


def test_deployment_overlay_overrides_the_default_overlay(tmp_path: Path) -> None:
    p = write(tmp_path, '[[working_day]]\ndate = "2026-01-02"\nname = "Làm việc"\n')
    cal = WorkingCalendar.from_files(p)
    assert cal.is_working_day(date(2026, 1, 2))
    assert cal.is_working_day(date(2026, 1, 10))  # the default overlay's other line stays


def test_later_files_win(tmp_path: Path) -> None:
    a = write(tmp_path, '[[day_off]]\ndate = "2025-03-12"\nname = "Nghỉ"\n', "a.toml")
    b = write(tmp_path, '[[working_day]]\ndate = "2025-03-12"\nname = "Làm"\n', "b.toml")
    assert not WorkingCalendar.from_files(a).is_working_day(date(2025, 3, 12))
    assert WorkingCalendar.from_files(a, b).is_working_day(date(2025, 3, 12))
    assert not WorkingCalendar.from_files(b, a).is_working_day(date(2025, 3, 12))
    assert dict(WorkingCalendar.from_files(b, a).days_off(2025))[date(2025, 3, 12)] == "Nghỉ"


def test_extra_day_off_and_worked_sunday_programmatically() -> None:
    ov = Overlay(
        days_off=[OverlayDay(date(2025, 3, 12), "Ngày nghỉ của tỉnh", "QĐ thử nghiệm")],
        working_days=[OverlayDay(date(2025, 3, 16), "Làm việc Chủ Nhật")],
        origin="plugin test",
    )
    cal = WorkingCalendar.default().with_overlays(ov)
    assert cal.overlays[-1] is ov
    # Tue 11/3 09:00 + 1 day: Wed 12/3 off => Thu 13/3 09:00.
    assert cal.add(vn(2025, 3, 11, 9), days=1) == vn(2025, 3, 13, 9)
    # Fri 14/3 09:00 + 1 day: Sunday 16/3 is worked => Sun 16/3 09:00.
    assert cal.add(vn(2025, 3, 14, 9), days=1) == vn(2025, 3, 16, 9)
    assert (date(2025, 3, 16), "Làm việc Chủ Nhật") in cal.weekend_workdays(2025)


def test_working_hours_overlay(tmp_path: Path) -> None:
    p = write(tmp_path, '[hours]\nperiods = [["07:00", "11:30"], ["13:30", "17:00"]]\n')
    cal = WorkingCalendar.from_files(p)
    assert cal.minutes_per_day == 480
    assert cal.periods == ((time(7), time(11, 30)), (time(13, 30), time(17)))
    assert cal.add(vn(2025, 3, 10, 7), days=1) == vn(2025, 3, 10, 17)
    assert cal.add(vn(2025, 3, 10, 7), hours=4.5) == vn(2025, 3, 10, 11, 30)
    assert cal.same_day_due(vn(2025, 3, 10, 14)) == vn(2025, 3, 10, 17)

    short = WorkingCalendar.from_files(write(tmp_path, '[hours]\nperiods = [["07:30", "16:30"]]\n'))
    assert short.minutes_per_day == 540
    # 1 day = 540 min: Monday 07:30 => Monday 16:30.
    assert short.add(vn(2025, 3, 10, 7, 30), days=1) == vn(2025, 3, 10, 16, 30)


def test_default_hours() -> None:
    cal = WorkingCalendar.default()
    assert cal.minutes_per_day == 480
    assert cal.periods == ((time(8), time(12)), (time(13), time(17)))


# --- malformed overlays -------------------------------------------------------------------------

ENTRY = 'date = "2026-01-05"\nname = "x"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[day_off]\ndate = 1", "not valid TOML"),
        ('[[day_off]]\ndate = "2026-13-01"\nname = "x"\n', r"\[\[day_off\]\] entry 1: 'date'"),
        ('[[day_off]]\ndate = "02/01/2026"\nname = "x"\n', r"entry 1: 'date' = '02/01/2026'"),
        ('[[day_off]]\ndate = 20260102\nname = "x"\n', r"entry 1: 'date' = 20260102"),
        ('[[day_off]]\ndate = 2026-01-02T08:00:00\nname = "x"\n', "without a time"),
        (f'[[day_off]]\n{ENTRY}\n[[day_off]]\ndate = "2026-01-06"\n', "entry 2: 'name' is missing"),
        (
            f'[[working_day]]\n{ENTRY}reason = "?"\n',
            r"\[\[working_day\]\] entry 1: unknown key 'reason'",
        ),
        (f"[[holiday]]\n{ENTRY}", "unknown key 'holiday'"),
        (f"[[day_off]]\n{ENTRY}\n[[working_day]]\n{ENTRY}", "2026-01-05 is both a day off and"),
        (f"[[day_off]]\n{ENTRY}\n[[day_off]]\n{ENTRY}", "entry 2: 2026-01-05 is listed twice"),
        ('[[day_off]]\ndate = "1990-01-05"\nname = "x"\n', "outside the years"),
        ('[[day_off]]\ndate = "2026-01-05"\nname = ""\n', "'name'"),
        ('[hours]\nperiods = [["08:00", "12:00"], ["11:00", "17:00"]]\n', "period 2 .* overlaps"),
        ('[hours]\nperiods = [["13:00", "17:00"], ["08:00", "12:00"]]\n', "period 2 .* overlaps"),
        ('[hours]\nperiods = [["08:00", "12:00"], ["12:00", "17:00"]]\n', "one period"),
        ('[hours]\nperiods = [["12:00", "08:00"]]\n', "period 1 .* must end after"),
        ('[hours]\nperiods = [["8:00", "12:00"]]\n', "period 1: '8:00' is not a time"),
        ('[hours]\nperiods = [["08:00", "24:00"]]\n', "'24:00' is not a time"),
        ("[hours]\nperiods = []\n", "non-empty"),
        ('[hours]\nstart = "08:00"\n', r"\[hours\]: unknown key 'start'"),
    ],
)
def test_malformed_overlay(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text, "bad.toml")
    with pytest.raises(CalendarError, match=message) as info:
        WorkingCalendar.from_files(p)
    assert str(info.value).startswith(f"{p}: ")
    assert "\n" not in str(info.value)


def test_missing_overlay_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="not found"):
        WorkingCalendar.from_files(tmp_path / "nope.toml")


def test_programmatic_overlay_is_validated() -> None:
    with pytest.raises(CalendarError, match=r"plugin x: .*both a day off and a working day"):
        Overlay(
            days_off=[OverlayDay(date(2026, 1, 5), "a")],
            working_days=[OverlayDay(date(2026, 1, 5), "b")],
            origin="plugin x",
        )
    with pytest.raises(CalendarError, match="plugin y: \\[hours\\] periods: period 2"):
        Overlay(periods=[(time(8), time(12)), (time(11), time(13))], origin="plugin y")
    with pytest.raises(CalendarError, match="expected an Overlay"):
        WorkingCalendar(["not an overlay"])  # type: ignore[list-item]


def test_instants_are_at_whole_minutes_in_vietnam(cal: WorkingCalendar) -> None:
    due = cal.add(vn(2025, 3, 10, 9, 17, 42, 123), hours=3)
    assert (due.second, due.microsecond) == (0, 0)
    assert due.utcoffset() == timedelta(hours=7)
