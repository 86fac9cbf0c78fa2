"""Properties of working-time arithmetic, for all instants, durations and overlays.

The landing convention: a sum that ends exactly at the end of a working period falls due AT that
end (Monday 08:00 + 1 day = Monday 17:00). Because counting from an instant outside working time
starts at the next working instant, and no working minute lies between the end of a period and
the start of the next, the convention is invisible to composition:

    add(add(s, a), b) == add(s, a + b)      for all a >= 0 and b >= 1 (working minutes).

It fails only for b == 0: add(x, 0) is next_working_instant(x), which moves a due instant at the
end of a period (12:00, 17:00) on to the next period's start (13:00, next day 08:00); both are the
same working instant, between() of them is 0.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong.legaltime.calendar import Overlay, WorkingCalendar, default_overlay
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import (
    calendars,
    instants,
    overlays,
    reference_add_minutes,
    working_durations,
)

DEFAULT = WorkingCalendar.default()
MINUTE = timedelta(minutes=1)

# Per test, not a global profile: these files share the session with other tests.
# No deadline: the first example of a calendar builds its index.
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150)

durations = working_durations(max_days=300)
positive = working_durations(min_minutes=1, max_days=300)


def in_closed_period(cal: WorkingCalendar, t: datetime) -> bool:
    """``t`` lies in (start, end] of a working period of a working day."""
    clock = t.time()
    return cal.is_working_day(t.date()) and any(s < clock <= e for s, e in cal.periods)


@SETTINGS
@given(instants(), durations, positive)
def test_add_composes(s: datetime, a: int, b: int) -> None:
    assert DEFAULT.add_minutes(DEFAULT.add_minutes(s, a), b) == DEFAULT.add_minutes(s, a + b)


@SETTINGS
@given(instants(), positive)
def test_add_zero_after_a_due_instant_is_the_next_working_instant(s: datetime, a: int) -> None:
    due = DEFAULT.add_minutes(s, a)
    again = DEFAULT.add_minutes(due, 0)
    assert again == DEFAULT.next_working_instant(due)
    assert DEFAULT.between(due, again) == 0
    assert again == due or due.time() in {e for _, e in DEFAULT.periods}


@SETTINGS
@given(instants(), durations)
def test_between_inverts_add(s: datetime, d: int) -> None:
    assert DEFAULT.between(s, DEFAULT.add_minutes(s, d)) == d


@SETTINGS
@given(instants(), positive)
def test_due_instant_is_in_working_time(s: datetime, d: int) -> None:
    due = DEFAULT.add_minutes(s, d)
    assert due > s
    assert in_closed_period(DEFAULT, due)
    assert DEFAULT.is_working_time(due - MINUTE)
    assert due.tzinfo is VN_TZ and due.second == 0 and due.microsecond == 0


@SETTINGS
@given(st.lists(instants(), min_size=3, max_size=3).map(sorted))
def test_between_is_additive(ts: list[datetime]) -> None:
    a, b, c = ts
    assert DEFAULT.between(a, c) == DEFAULT.between(a, b) + DEFAULT.between(b, c)
    assert DEFAULT.between(c, a) == 0


@SETTINGS
@given(instants(), durations, durations)
def test_add_is_monotone_in_the_duration(s: datetime, d1: int, d2: int) -> None:
    d1, d2 = sorted((d1, d2))
    assert DEFAULT.add_minutes(s, d1) <= DEFAULT.add_minutes(s, d2)


@SETTINGS
@given(instants(), instants(), durations)
def test_add_is_monotone_in_the_start(s1: datetime, s2: datetime, d: int) -> None:
    s1, s2 = sorted((s1, s2))
    assert DEFAULT.add_minutes(s1, d) <= DEFAULT.add_minutes(s2, d)


@SETTINGS
@given(instants(), st.integers(min_value=0, max_value=300), st.integers(0, 7), st.integers(0, 59))
def test_days_hours_minutes_are_minutes(s: datetime, days: int, hours: int, minutes: int) -> None:
    expected = DEFAULT.add_minutes(s, days * 480 + hours * 60 + minutes)
    assert DEFAULT.add(s, days=days, hours=hours, minutes=minutes) == expected


@SETTINGS
@given(instants(), positive)
def test_subtract_inverts_add_on_due_instants(s: datetime, d: int) -> None:
    due = DEFAULT.add_minutes(s, d)
    back = DEFAULT.subtract(due, minutes=d)
    assert DEFAULT.between(back, due) == d
    assert DEFAULT.add_minutes(back, d) == due


@SETTINGS
@given(instants())
def test_next_working_instant(t: datetime) -> None:
    n = DEFAULT.next_working_instant(t)
    assert n >= t
    assert DEFAULT.is_working_time(n)
    assert DEFAULT.between(t, n) == 0
    assert n == t or not DEFAULT.is_working_time(t)


@SETTINGS
@given(instants())
def test_same_day_due(received: datetime) -> None:
    due = DEFAULT.same_day_due(received)
    assert due > received
    assert due.time() == time(17) and DEFAULT.is_working_day(due.date())
    same_day = DEFAULT.is_working_day(received.date()) and received.time() < time(15)
    if same_day:
        assert due.date() == received.date()
    else:
        # The first working day after the day of receipt.
        d = received.date() + timedelta(days=1)
        while not DEFAULT.is_working_day(d):
            d += timedelta(days=1)
        assert due.date() == d


# --- against independent references --------------------------------------------------------------


def up_to_days(cal: WorkingCalendar, days: int, minimum: int = 0) -> st.SearchStrategy[int]:
    """Durations up to ``days`` working days of this calendar (random hours may be short)."""
    return st.integers(min_value=minimum, max_value=days * cal.minutes_per_day)


@SETTINGS
@given(calendars(with_hours=True), instants(), st.data())
def test_indexed_add_matches_day_by_day(
    cal: WorkingCalendar, s: datetime, data: st.DataObject
) -> None:
    d = data.draw(up_to_days(cal, 60))
    assert cal.add_minutes(s, d) == reference_add_minutes(cal, s, d)


@SETTINGS
@given(calendars(with_hours=True), instants(), st.data())
def test_properties_hold_with_random_overlays_and_hours(
    cal: WorkingCalendar, s: datetime, data: st.DataObject
) -> None:
    a = data.draw(up_to_days(cal, 300))
    b = data.draw(up_to_days(cal, 300, minimum=1))
    due = cal.add_minutes(s, a + b)
    assert cal.add_minutes(cal.add_minutes(s, a), b) == due
    assert cal.between(s, due) == a + b
    assert in_closed_period(cal, due)
    assert cal.is_working_time(due - MINUTE)


PACKAGE = holidays.VN(years=range(2023, 2029), language="vi")


@SETTINGS
@given(overlays(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_working_days_are_package_then_overlays(ov: Overlay, d: date) -> None:
    cal = WorkingCalendar([ov])
    expected = PACKAGE.is_working_day(d)
    for layer in (default_overlay(), ov):
        if d in {e.day for e in layer.days_off}:
            expected = False
        if d in {e.day for e in layer.working_days}:
            expected = True
    assert cal.is_working_day(d) == expected


@SETTINGS
@given(calendars(), st.integers(min_value=2024, max_value=2027))
def test_days_off_and_weekend_workdays_agree_with_is_working_day(
    cal: WorkingCalendar, year: int
) -> None:
    off = [d for d, _ in cal.days_off(year)]
    worked = [d for d, _ in cal.weekend_workdays(year)]
    assert off == sorted(off) and worked == sorted(worked)
    d = date(year, 1, 1)
    while d.year == year:
        if d.weekday() < 5:
            assert (d in off) == (not cal.is_working_day(d))
        else:
            assert (d in worked) == cal.is_working_day(d)
        d += timedelta(days=1)
