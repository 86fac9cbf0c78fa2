"""Hypothesis strategies for legal-time tests: instants, working durations, overlays, calendars;
and a reference implementation of working-time addition to test calendars against.

hypothesis is imported when a strategy is first called (:func:`_st`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ
from lienthong.legaltime.overlays import Overlay, OverlayDay

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

#: Years the strategies draw from unless told otherwise: recent and near-future ones.
DEFAULT_YEARS = (2024, 2027)


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


def working_durations(*, min_minutes: int = 0, max_days: int = 250) -> SearchStrategy[int]:
    """Durations in working minutes, from ``min_minutes`` to ``max_days`` working days of 480."""
    return _st().integers(min_value=min_minutes, max_value=max_days * 480)


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


# -- helpers for tests that run dossiers (plugin authors' and lienthong's own) --------------------




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
