"""Test helpers for users' own SLA tests: hypothesis strategies and a fixed clock.

Needs the ``test`` extra (``pip install lienthong[test]``) for the strategies: hypothesis is
imported when a strategy is first called, so importing this module (e.g. for :class:`FixedClock`)
works without it.

Strategies:

* :func:`instants` — aware datetimes in Asia/Ho_Chi_Minh, whole minutes, over a year range;
* :func:`working_durations` — durations in working minutes;
* :func:`overlays` — random calendar overlays (extra weekdays off, worked weekend days);
* :func:`calendars` — :class:`~lienthong.calendar.WorkingCalendar` objects with a random overlay;
* :func:`dossier_histories`, :func:`actions`, :func:`play`, :class:`Player` — random lives of one
  dossier played through the Engine (from :mod:`lienthong.testing_dossiers`).

Example::

    from hypothesis import given
    from lienthong.testing import calendars, instants, working_durations

    @given(calendars(), instants(), working_durations(min_minutes=1))
    def test_due_is_after_receipt(cal, received, minutes):
        assert cal.add_minutes(received, minutes) > received
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from lienthong.calendar import Overlay, OverlayDay, WorkingCalendar
from lienthong.clock import VN_TZ, FixedClock

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "FixedClock",
    "Player",
    "actions",
    "calendars",
    "dossier_histories",
    "instants",
    "overlays",
    "periods",
    "play",
    "working_durations",
]

#: Dossier-history strategies and the player live in :mod:`lienthong.testing_dossiers`, which
#: imports hypothesis at once; they are re-exported here lazily, on first use.
_DOSSIER_NAMES = frozenset({"Player", "actions", "dossier_histories", "play"})


def __getattr__(name: str) -> Any:
    if name in _DOSSIER_NAMES:
        from . import testing_dossiers

        return getattr(testing_dossiers, name)
    raise AttributeError(f"module 'lienthong.testing' has no attribute {name!r}")

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
    """Random :class:`~lienthong.calendar.Overlay` objects over ``years``: up to ``max_days``
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
