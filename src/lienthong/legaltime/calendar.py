"""The working calendar (lịch làm việc) and working-time arithmetic, at minute resolution.

Working days (ngày làm việc) are Monday to Friday, minus the public holidays and substitute days off
(ngày nghỉ bù) that the ``holidays`` package knows for Vietnam, plus its make-up Saturdays (làm bù),
then corrected by calendar *overlays*: small TOML files (or :class:`Overlay` objects) that add days
off, add working days and set the working hours (giờ hành chính). Overlays override the package in
both directions and are applied in order, the last one winning for a given date.

Working hours default to 08:00–12:00 and 13:00–17:00 Asia/Ho_Chi_Minh: 480 working minutes a day.

How durations are counted (Decree 118/2025 and ``docs/calendar.md``):

* N working days = N × (working minutes per day) working minutes;
* counting starts at the next working instant when the start is outside working time;
* a sum that ends exactly at the end of a working period falls due *at* that end: received Monday
  08:00 with 1 working day, due Monday 17:00 (not Tuesday 08:00);
* instants are floored to the whole minute (the receipt form records hours and minutes).

Internally every instant maps to a *working-minute coordinate*: the number of working minutes
between the start of the index and that instant. The index is a sorted list of the ordinals of the
working days, built year by year when first needed; with a constant number of working minutes per
day, day ``i`` of the index starts at coordinate ``i × minutes_per_day``, so converting an instant
to its coordinate and back is a bisection: adding 200 working days costs what adding 1 does.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from os import PathLike

import attrs
import holidays

from lienthong.errors import CalendarError
from lienthong.legaltime.clock import VN_TZ
from lienthong.legaltime.overlays import (
    MAX_YEAR,
    MIN_YEAR,
    Overlay,
    OverlayDay,
    default_overlay,
)

__all__ = [
    "DEFAULT_PERIODS",
    "MAX_YEAR",
    "MIN_YEAR",
    "SAME_DAY_CUTOFF",
    "Overlay",
    "OverlayDay",
    "WorkingCalendar",
    "default_overlay",
    "weekday_name",
]

#: Default working periods (giờ hành chính), local time: 08:00–12:00 and 13:00–17:00.
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(13), time(17)))

#: Same-day procedures: received before this time on a working day, due the same day (Art 18(2)).
SAME_DAY_CUTOFF = time(15)

# The package names holidays in the process's locale unless told otherwise (English under
# LANG=C.UTF-8): ask for Vietnamese explicitly so that names do not depend on the environment.
_LANGUAGE = "vi"
_WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_DMY_RE = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")


# --------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------


@attrs.frozen
class _Year:
    """One calendar year, resolved: its working days and the exceptions, named."""

    working: list[int]  # ordinals of the working days, ascending
    off_weekdays: list[tuple[date, str]]
    worked_weekends: list[tuple[date, str]]


@attrs.frozen
class _Index:
    """Sorted ordinals of every working day of the years ``first``..``last``.

    Replaced as a whole when extended, never mutated: an operation holds one snapshot throughout.
    """

    first: int
    last: int
    ordinals: list[int]


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class WorkingCalendar:
    """Vietnamese working days and hours, and working-time arithmetic.

    ``WorkingCalendar(overlays)`` stacks the given :class:`Overlay` objects, in order, on top of
    the ``holidays`` package (country VN) and, unless ``base_default=False``, lienthong's shipped
    default overlay (which comes first, so a deployment's overlay overrides it). See also
    :meth:`default` and :meth:`from_files`.

    Every method that takes an instant wants a timezone-aware :class:`datetime` (any zone; it is
    converted) and raises :class:`~lienthong.errors.CalendarError` on a naive one. Every instant
    returned is in Asia/Ho_Chi_Minh. Seconds and microseconds of an input instant are dropped (the
    instant is floored to its minute) by the arithmetic; results are whole minutes. The calendar
    covers the years :data:`MIN_YEAR`–:data:`MAX_YEAR`; outside them, CalendarError.

    A calendar is immutable once built (its index grows lazily, under a lock) and safe to share
    between threads.
    """

    def __init__(self, overlays: Iterable[Overlay] = (), *, base_default: bool = True) -> None:
        """Build a calendar from parsed overlays, applied in order over the package's data."""
        stack = list(overlays)
        for ov in stack:
            if not isinstance(ov, Overlay):
                raise CalendarError(f"expected an Overlay, got {ov!r}")
        if base_default:
            stack.insert(0, default_overlay())
        self._overlays: tuple[Overlay, ...] = tuple(stack)

        # Later overlays win, date by date; the last overlay that sets hours sets them.
        overrides: dict[date, tuple[bool, str]] = {}
        periods = DEFAULT_PERIODS
        for ov in stack:
            for entry in ov.days_off:
                overrides[entry.day] = (False, entry.name)
            for entry in ov.working_days:
                overrides[entry.day] = (True, entry.name)
            if ov.periods is not None:
                periods = ov.periods
        self._overrides = overrides
        self._periods = periods

        # Periods as minutes since midnight, and the working minutes before / at the end of each.
        self._starts = [s.hour * 60 + s.minute for s, _ in periods]
        self._ends = [e.hour * 60 + e.minute for _, e in periods]
        self._cum_before: list[int] = []
        self._cum_end: list[int] = []
        total = 0
        for s, e in zip(self._starts, self._ends, strict=True):
            self._cum_before.append(total)
            total += e - s
            self._cum_end.append(total)
        self._mpd = total

        self._lock = threading.Lock()
        self._years: dict[int, _Year] = {}
        self._index: _Index | None = None

    # ---- construction ----------------------------------------------------------------------

    @classmethod
    def default(cls) -> WorkingCalendar:
        """The ``holidays`` package's Vietnamese calendar plus lienthong's default overlay."""
        return cls()

    @classmethod
    def from_files(cls, *paths: str | PathLike[str], base_default: bool = True) -> WorkingCalendar:
        """The default calendar (unless ``base_default=False``) with overlay files on top, in order.

        A missing or malformed file raises CalendarError naming the file and the entry.
        """
        return cls([Overlay.load(p) for p in paths], base_default=base_default)

    def with_overlays(self, *overlays: Overlay) -> WorkingCalendar:
        """A new calendar: this one's overlays, then ``overlays`` (e.g. a plugin's) on top."""
        return WorkingCalendar([*self._overlays, *overlays], base_default=False)

    # ---- properties ------------------------------------------------------------------------

    @property
    def overlays(self) -> tuple[Overlay, ...]:
        """The overlays applied, in order (the shipped default first, if used)."""
        return self._overlays

    @property
    def periods(self) -> tuple[tuple[time, time], ...]:
        """The working periods of a working day, local time."""
        return self._periods

    @property
    def minutes_per_day(self) -> int:
        """Working minutes in one working day (480 with the default hours)."""
        return self._mpd

    def __repr__(self) -> str:
        names = ", ".join(ov.origin for ov in self._overlays)
        return f"WorkingCalendar(overlays=[{names}])"

    # ---- days ------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (an aware datetime is taken at its local date)."""
        d = _local_date(d)
        idx = self._cover(d.year, d.year)
        o = d.toordinal()
        i = bisect_left(idx.ordinals, o)
        return i < len(idx.ordinals) and idx.ordinals[i] == o

    def days_off(self, year: int) -> list[tuple[date, str]]:
        """The weekdays (Monday–Friday) of ``year`` that are not working days, with their names.

        Sorted by date. Holidays that fall on a weekend are not listed (their observed or
        substitute weekday is).
        """
        return list(self._year(year).off_weekdays)

    def weekend_workdays(self, year: int) -> list[tuple[date, str]]:
        """The Saturdays and Sundays of ``year`` that are working days (làm bù), with names.

        Sorted by date. For the package's make-up days the name says which day off they pay for.
        """
        return list(self._year(year).worked_weekends)

    # ---- instants --------------------------------------------------------------------------

    def is_working_time(self, t: datetime) -> bool:
        """Whether ``t`` (floored to its minute) is inside a working period of a working day.

        Periods are half-open: 08:00 is working time, 12:00 and 17:00 are not.
        """
        lt = _local(t)
        m = lt.hour * 60 + lt.minute
        in_period = any(s <= m < e for s, e in zip(self._starts, self._ends, strict=True))
        return in_period and self.is_working_day(lt.date())

    def next_working_instant(self, t: datetime) -> datetime:
        """``t`` itself (in Asia/Ho_Chi_Minh) if it is working time, else the next period start."""
        lt = _local(t)
        if self.is_working_time(lt):
            return lt
        while True:
            idx = self._cover(lt.year, lt.year)
            w = self._coordinate(idx, lt)
            found = self._instant_starting(idx, w)
            if found is not None:
                return found
            self._extend_forward(idx, 1)

    # ---- arithmetic ------------------------------------------------------------------------

    def add(
        self, start: datetime, *, days: float = 0, hours: float = 0, minutes: float = 0
    ) -> datetime:
        """The instant ``days`` working days, ``hours`` working hours and ``minutes`` working
        minutes after ``start``.

        One working day is :attr:`minutes_per_day` working minutes (480), one working hour 60.
        The total is rounded to the nearest whole minute, a half minute rounding up, after
        adding the parts exactly as decimals (``days=0.1`` is 48 minutes, ``hours=0.0125``
        rounds 0.75 minute up to 1). ``start`` is floored to its minute; outside working time,
        counting starts at the next working instant. A sum that ends exactly at the end of a
        working period falls due at that end: Monday 08:00 + 1 day = Monday 17:00, Monday 08:00
        + 4 hours = Monday 12:00. A zero duration gives :meth:`next_working_instant`. A negative
        (or not finite) part raises CalendarError.
        """
        return self.add_minutes(start, _total_minutes(days, hours, minutes, self._mpd))

    def add_minutes(self, start: datetime, n: int) -> datetime:
        """The instant ``n`` working minutes after ``start``; see :meth:`add` for the rules."""
        n = _whole_minutes(n)
        ls = _floor(_local(start))
        if n == 0:
            return self.next_working_instant(ls)
        while True:
            idx = self._cover(ls.year, ls.year)
            found = self._instant_ending(idx, self._coordinate(idx, ls) + n)
            if found is not None:
                return found
            self._extend_forward(idx, n // self._mpd + 1)

    def subtract(
        self, end: datetime, *, days: float = 0, hours: float = 0, minutes: float = 0
    ) -> datetime:
        """The instant that much working time before ``end`` (e.g. "one working day before the
        deadline", for the apology and warnings). Rounding as in :meth:`add`.

        The result ``s`` satisfies ``between(s, end) == duration``; where several instants do
        (a break or a night in between), the earliest is returned, which is the end of a working
        period: one day before Tuesday 17:00 is Monday 17:00.
        """
        n = _total_minutes(days, hours, minutes, self._mpd)
        le = _floor(_local(end))
        while True:
            idx = self._cover(le.year, le.year)
            found = self._instant_ending(idx, self._coordinate(idx, le) - n)
            if found is not None:
                return found
            self._extend_backward(idx, n // self._mpd + 1)

    def between(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end`` (floored to the minute); 0 if end <= start."""
        ls, le = _floor(_local(start)), _floor(_local(end))
        if le <= ls:
            return 0
        idx = self._cover(ls.year, le.year)
        return self._coordinate(idx, le) - self._coordinate(idx, ls)

    def same_day_due(self, received: datetime, *, cutoff: time = SAME_DAY_CUTOFF) -> datetime:
        """Due instant of a same-day procedure (giải quyết trong ngày) received at ``received``.

        Received on a working day strictly before ``cutoff`` (15:00, Decree 118/2025 Art 18(2)):
        due at the end of that working day (17:00). Received at or after 15:00, or on a day
        off: due at the end of the next working day. The end of a working day is the end of its
        last working period.
        """
        lt = _local(received)
        end_minute = self._ends[-1]
        end_of_day = time(end_minute // 60, end_minute % 60)
        d = lt.date()
        clock = lt.time()
        if not (self.is_working_day(d) and clock < cutoff and clock < end_of_day):
            d = self._next_working_day_after(d)
        return datetime.combine(d, end_of_day, tzinfo=VN_TZ)

    # ---- internals -------------------------------------------------------------------------

    def _next_working_day_after(self, d: date) -> date:
        while True:
            idx = self._cover(d.year, d.year)
            i = bisect_right(idx.ordinals, d.toordinal())
            if i < len(idx.ordinals):
                return date.fromordinal(idx.ordinals[i])
            self._extend_forward(idx, 1)

    def _minutes_into_day(self, minute_of_day: int) -> int:
        """Working minutes of a working day elapsed at ``minute_of_day``."""
        done = 0
        for s, e in zip(self._starts, self._ends, strict=True):
            if minute_of_day <= s:
                break
            done += min(minute_of_day, e) - s
        return done

    def _coordinate(self, idx: _Index, lt: datetime) -> int:
        """Working minutes from the start of ``idx`` to the local, floored instant ``lt``."""
        o = lt.toordinal()
        i = bisect_left(idx.ordinals, o)
        if i < len(idx.ordinals) and idx.ordinals[i] == o:
            return i * self._mpd + self._minutes_into_day(lt.hour * 60 + lt.minute)
        # A day off: the coordinate of the end of the previous working day.
        return i * self._mpd

    def _at(self, idx: _Index, day: int, minute_of_day: int) -> datetime:
        d = date.fromordinal(idx.ordinals[day])
        return datetime.combine(d, time(minute_of_day // 60, minute_of_day % 60), tzinfo=VN_TZ)

    def _instant_ending(self, idx: _Index, w: int) -> datetime | None:
        """The instant at coordinate ``w`` > 0, landing at the END of a period on a boundary.

        None when ``w`` lies beyond the index (the caller extends it and retries).
        """
        day, r = divmod(w - 1, self._mpd)
        if day < 0 or day >= len(idx.ordinals):
            return None
        r += 1  # 1..mpd working minutes into the day
        k = bisect_left(self._cum_end, r)
        return self._at(idx, day, self._starts[k] + r - self._cum_before[k])

    def _instant_starting(self, idx: _Index, w: int) -> datetime | None:
        """The instant at coordinate ``w`` >= 0, landing at the START of a period on a boundary."""
        day, r = divmod(w, self._mpd)
        if day >= len(idx.ordinals):
            return None
        k = bisect_right(self._cum_end, r)
        return self._at(idx, day, self._starts[k] + r - self._cum_before[k])

    def _extend_forward(self, idx: _Index, working_days: int) -> None:
        if idx.last >= MAX_YEAR:
            raise CalendarError(
                f"the result lies after {MAX_YEAR}, the last year the calendar covers"
            )
        # At least ~200 working days a year whatever the overlays: grow by enough years at once.
        years = working_days // 200 + 1
        self._cover(idx.first, min(MAX_YEAR, idx.last + years))

    def _extend_backward(self, idx: _Index, working_days: int) -> None:
        if idx.first <= MIN_YEAR:
            raise CalendarError(
                f"the result lies before {MIN_YEAR}, the first year the calendar covers"
            )
        years = working_days // 200 + 1
        self._cover(max(MIN_YEAR, idx.first - years), idx.last)

    def _cover(self, lo: int, hi: int) -> _Index:
        """An index covering at least the years ``lo``..``hi``, building what is missing."""
        idx = self._index
        if idx is not None and idx.first <= lo and hi <= idx.last:
            return idx
        for y in (lo, hi):
            if not (MIN_YEAR <= y <= MAX_YEAR):
                raise CalendarError(
                    f"year {y} is outside the years the calendar covers ({MIN_YEAR}–{MAX_YEAR})"
                )
        with self._lock:
            idx = self._index
            if idx is not None and idx.first <= lo and hi <= idx.last:
                return idx
            # Build a little more than asked on the side that grows: the next due dates usually
            # fall in the following year or two.
            first = max(MIN_YEAR, lo - 1)
            last = min(MAX_YEAR, hi + 2)
            if idx is not None:
                first = idx.first if lo >= idx.first else first
                last = idx.last if hi <= idx.last else last
            self._build_years(first, last)
            ordinals: list[int] = []
            for y in range(first, last + 1):
                ordinals.extend(self._years[y].working)
            self._index = _Index(first, last, ordinals)
            return self._index

    def _year(self, year: int) -> _Year:
        if not isinstance(year, int) or isinstance(year, bool):
            raise CalendarError(f"year must be an integer, got {year!r}")
        self._cover(year, year)
        return self._years[year]

    def _build_years(self, first: int, last: int) -> None:
        """Resolve the years ``first``..``last`` not built yet (called under the lock)."""
        missing = [y for y in range(first, last + 1) if y not in self._years]
        if not missing:
            return
        # One package object for the whole span, plus a year either side: some swaps cross a
        # year boundary (Fri 2/1/2015 off for Sat 27/12/2014).
        lo = max(holidays.VN.start_year, missing[0] - 1)
        hi = min(holidays.VN.end_year, missing[-1] + 1)
        hol = holidays.VN(years=range(lo, hi + 1), language=_LANGUAGE)
        # The package does not name its make-up weekend days; its substitute day off is named
        # "Ngày nghỉ (thay cho ngày DD/MM/YYYY)" after the weekend day it moved: invert that.
        pays_for: dict[date, date] = {}
        for day_off, name in hol.items():
            for m in _DMY_RE.finditer(name):
                try:
                    pays_for[date(int(m.group(3)), int(m.group(2)), int(m.group(1)))] = day_off
                except ValueError:
                    continue
        for year in missing:
            working: list[int] = []
            off: list[tuple[date, str]] = []
            worked: list[tuple[date, str]] = []
            for o in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()):
                d = date.fromordinal(o)
                weekend = hol.is_weekend(d)
                override = self._overrides.get(d)
                if override is not None:
                    is_working, name = override
                else:
                    is_working = hol.is_working_day(d)
                    if not is_working:
                        name = hol.get(d) or "Ngày nghỉ"
                    elif d in pays_for:
                        name = f"Làm bù cho ngày {pays_for[d]:%d/%m/%Y}"
                    else:
                        name = "Ngày làm bù"
                if is_working:
                    working.append(o)
                    if weekend:
                        worked.append((d, name))
                elif not weekend:
                    off.append((d, name))
            self._years[year] = _Year(working, off, worked)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _local(t: object) -> datetime:
    """``t`` converted to Asia/Ho_Chi_Minh; naive or non-datetime input raises CalendarError."""
    if not isinstance(t, datetime):
        raise CalendarError(f"expected a timezone-aware datetime, got {t!r}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise CalendarError(
            f"naive datetime {t.isoformat()}: give a timezone-aware instant "
            "(e.g. with tzinfo=ZoneInfo('Asia/Ho_Chi_Minh'))"
        )
    lt = t.astimezone(VN_TZ)
    if not (MIN_YEAR <= lt.year <= MAX_YEAR):
        raise CalendarError(
            f"{lt.isoformat()} is outside the years the calendar covers ({MIN_YEAR}–{MAX_YEAR})"
        )
    return lt


def _local_date(d: object) -> date:
    if isinstance(d, datetime):
        return _local(d).date()
    if not isinstance(d, date):
        raise CalendarError(f"expected a date, got {d!r}")
    return d


def _floor(lt: datetime) -> datetime:
    return lt.replace(second=0, microsecond=0)


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise CalendarError(f"{what} must be a number, got {value!r}")
    try:
        # str() first so that days=0.1 means the decimal 0.1, not the binary float near it.
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise CalendarError(f"{what} must be a number, got {value!r}") from None
    if not d.is_finite():
        raise CalendarError(f"{what} must be finite, got {value!r}")
    if d < 0:
        raise CalendarError(f"{what} must not be negative, got {value!r}")
    return d


def _total_minutes(days: object, hours: object, minutes: object, per_day: int) -> int:
    # Whole, non-negative numbers (the common case) need no rounding: skip the decimals. The
    # rest goes through them, which also names a negative or non-numeric part.
    if (
        type(days) is int
        and type(hours) is int
        and type(minutes) is int
        and min(days, hours, minutes) >= 0
    ):
        return days * per_day + hours * 60 + minutes
    total = (
        _decimal(days, "days") * per_day
        + _decimal(hours, "hours") * 60
        + _decimal(minutes, "minutes")
    )
    return int(total.to_integral_value(rounding=ROUND_HALF_UP))


def _whole_minutes(n: object) -> int:
    if type(n) is int and n >= 0:
        return n
    d = _decimal(n, "minutes")
    return int(d.to_integral_value(rounding=ROUND_HALF_UP))


def weekday_name(d: date) -> str:
    """The Vietnamese name of ``d``'s day of the week (Thứ Hai … Chủ Nhật)."""
    return _WEEKDAYS_VI[d.weekday()]
