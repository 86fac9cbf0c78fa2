"""Hypothesis strategies for legal-time tests: instants (any, or at the working day's edges and
around days off), working durations, overlays, calendars; and a reference implementation of
working-time addition to test calendars against.

hypothesis is imported when a strategy is first called (:func:`_st`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from lienthong.legaltime.calendar import SAME_DAY_CUTOFF, WorkingCalendar
from lienthong.legaltime.clock import VN_TZ
from lienthong.legaltime.overlays import Overlay, OverlayDay

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

#: Years the strategies draw from unless told otherwise: recent and near-future ones.
DEFAULT_YEARS = (2024, 2027)
ONE_DAY = timedelta(days=1)


def _st() -> Any:
    # Imported here so that `import lienthong.testing` does not need hypothesis.
    from hypothesis import strategies

    return strategies


def instants(*, years: tuple[int, int] = DEFAULT_YEARS) -> SearchStrategy[datetime]:
    """Aware datetimes in Asia/Ho_Chi_Minh, at whole minutes, from 1 January of ``years[0]`` to
    31 December of ``years[1]`` (any time of day, working or not)."""
    st = _st()
    first, last = years
    return st.datetimes(
        min_value=datetime(first, 1, 1),
        max_value=datetime(last, 12, 31, 23, 59),
        timezones=st.just(VN_TZ),
    ).map(lambda t: t.replace(second=0, microsecond=0))


def boundary_instants(
    *,
    years: tuple[int, int] = DEFAULT_YEARS,
    calendar: WorkingCalendar | None = None,
    times: Sequence[time] | None = None,
    spread: int = 1,
) -> SearchStrategy[datetime]:
    """Instants where legal-time rules break: like :func:`instants`, but four draws in five fall
    at a working-day boundary, give or take up to ``spread`` minutes (07:59, 08:00, 08:01, …).

    The boundaries (``times``, unless given) are the starts and ends of ``calendar``'s working
    periods — 08:00, 12:00, 13:00 and 17:00 with the default hours — and the same-day cut-off,
    15:00 (:data:`~lienthong.legaltime.calendar.SAME_DAY_CUTOFF`). Half of those draws fall on
    any day of ``years``, half on a *holiday edge* (:func:`holiday_edges`): the last working day
    before a run of days off, its first and last day, the first working day after it, and the
    worked weekend days (làm bù) with their neighbours. The fifth draw is any instant.
    """
    st = _st()
    cal = calendar or _default_calendar()
    marks = sorted(set(times) if times is not None else _boundaries(cal))
    if not marks:
        raise ValueError("boundary_instants: give at least one time")
    edges = holiday_edges(cal, years=years)
    first, last = years
    minute = st.sampled_from([t.hour * 60 + t.minute for t in marks]).flatmap(
        lambda m: st.integers(m - spread, m + spread)
    )
    any_day = st.dates(min_value=date(first, 1, 1), max_value=date(last, 12, 31))
    days = st.one_of(any_day, st.sampled_from(edges)) if edges else any_day

    def at(d: date, m: int) -> datetime:
        # Vietnam keeps no summer time: a minute before midnight is the previous day's 23:59.
        return datetime.combine(d, time(0), tzinfo=VN_TZ) + timedelta(minutes=m)

    edge = st.builds(at, days, minute)
    anywhen = instants(years=years)
    return st.sampled_from((True, True, True, True, False)).flatmap(
        lambda on_edge: edge if on_edge else anywhen
    )


def holiday_edges(cal: WorkingCalendar, *, years: tuple[int, int] = DEFAULT_YEARS) -> list[date]:
    """The days around the days off of ``years`` on ``cal``, sorted: for each run of days that
    are not working days and hold a weekday off (a holiday, Tết), the working day before it, its
    first day, its last day and the working day after; and each worked weekend day (làm bù)
    with the day before and after. Ordinary weekends are not edges."""
    first, last = years
    lo, hi = date(first, 1, 1), date(last, 12, 31)
    out: set[date] = set()
    for year in range(first, last + 1):
        for d, _name in cal.days_off(year):
            start = end = d
            while start - ONE_DAY >= lo and not cal.is_working_day(start - ONE_DAY):
                start -= ONE_DAY
            while end + ONE_DAY <= hi and not cal.is_working_day(end + ONE_DAY):
                end += ONE_DAY
            out |= {start - ONE_DAY, start, end, end + ONE_DAY}
        for d, _name in cal.weekend_workdays(year):
            out |= {d - ONE_DAY, d, d + ONE_DAY}
    return sorted(d for d in out if lo <= d <= hi)


def working_durations(
    *, min_minutes: int = 0, max_days: int = 250, calendar: WorkingCalendar | None = None
) -> SearchStrategy[int]:
    """Durations in working minutes, from ``min_minutes`` to ``max_days`` working days.

    Without ``calendar``: days of 480 minutes, any whole minute between (as lienthong 0.2 drew
    them). With ``calendar``: days of ``calendar.minutes_per_day`` minutes (random working hours
    make days of any length), and half the draws are whole or half days of that length, give or
    take a minute (``3d``, ``0.5d``: the shares procedures are written in, and where a day's
    end falls).
    """
    st = _st()
    if calendar is None:
        return st.integers(min_value=min_minutes, max_value=max_days * 480)
    per_day = calendar.minutes_per_day
    hi = max(min_minutes, max_days * per_day)
    days = (
        st.integers(0, max_days)
        .flatmap(
            lambda k: st.sampled_from(
                [k * per_day, k * per_day - 1, k * per_day + 1, k * per_day + per_day // 2]
            )
        )
        .map(lambda m: min(max(m, min_minutes), hi))
    )
    return st.one_of(st.integers(min_value=min_minutes, max_value=hi), days)


def periods() -> SearchStrategy[tuple[tuple[time, time], ...]]:
    """Valid working hours: one to three sorted, separated periods, whole minutes."""
    st = _st()

    def build(cuts: list[int]) -> tuple[tuple[time, time], ...]:
        # Cuts are distinct minutes of the day: pair them up as start, end, start, end, ...
        def t(m: int) -> time:
            return time(m // 60, m % 60)

        return tuple((t(cuts[i]), t(cuts[i + 1])) for i in range(0, len(cuts), 2))

    n = st.sampled_from([2, 4, 6])
    return n.flatmap(
        lambda k: st.lists(
            st.integers(min_value=0, max_value=23 * 60 + 59), min_size=k, max_size=k, unique=True
        ).map(sorted)
    ).map(build)


def overlays(
    *,
    years: tuple[int, int] = DEFAULT_YEARS,
    max_days: int = 8,
    with_hours: bool = False,
) -> SearchStrategy[Overlay]:
    """Random :class:`~lienthong.Overlay` objects over ``years``: up to ``max_days``
    extra weekdays off and up to ``max_days`` worked weekend days; with ``with_hours``, random
    working hours too (see :func:`periods`)."""
    st = _st()
    first, last = years
    days = st.dates(min_value=date(first, 1, 1), max_value=date(last, 12, 31))
    weekdays = st.lists(days.filter(lambda d: d.weekday() < 5), max_size=max_days, unique=True)
    weekends = st.lists(days.filter(lambda d: d.weekday() >= 5), max_size=max_days, unique=True)
    hours = periods() if with_hours else st.none()

    def build(
        off: list[date], worked: list[date], hours: tuple[tuple[time, time], ...] | None
    ) -> Overlay:
        return Overlay(
            days_off=[OverlayDay(d, "Ngày nghỉ (thử nghiệm)") for d in sorted(off)],
            working_days=[OverlayDay(d, "Ngày làm bù (thử nghiệm)") for d in sorted(worked)],
            periods=hours,
            origin="<hypothesis>",
        )

    return st.builds(build, weekdays, weekends, hours)


def calendars(
    *,
    years: tuple[int, int] = DEFAULT_YEARS,
    with_hours: bool = False,
) -> SearchStrategy[WorkingCalendar]:
    """Working calendars: the default one with a random overlay from :func:`overlays` on top."""
    return overlays(years=years, with_hours=with_hours).map(lambda ov: WorkingCalendar([ov]))


@cache
def _default_calendar() -> WorkingCalendar:
    return WorkingCalendar.default()


def _boundaries(cal: WorkingCalendar) -> set[time]:
    """The starts and ends of the working periods, and the same-day cut-off."""
    return {t for period in cal.periods for t in period} | {SAME_DAY_CUTOFF}


def reference_add_minutes(cal: WorkingCalendar, start: datetime, n: int) -> datetime:
    """``cal.add_minutes(start, n)`` the slow, obvious way: walk day by day and period by period
    (no index). An oracle for property tests of calendars and overlays, and the naive baseline
    of ``bench/calendar.py``."""
    t = start.astimezone(VN_TZ).replace(second=0, microsecond=0)
    if n == 0:
        return cal.next_working_instant(t)
    d, clock = t.date(), t.hour * 60 + t.minute
    while True:
        if cal.is_working_day(d):
            for s, e in cal.periods:
                ps, pe = s.hour * 60 + s.minute, e.hour * 60 + e.minute
                begin = max(ps, clock)
                if begin >= pe:
                    continue
                if n <= pe - begin:
                    m = begin + n
                    return datetime.combine(d, time(m // 60, m % 60), tzinfo=VN_TZ)
                n -= pe - begin
        d, clock = d + timedelta(days=1), 0
