"""Calendar overlays: the days off, working days and working hours that correct the
``holidays`` package, from TOML files or built in code (by plugins), each line with its source.

lienthong ships a default overlay (``lienthong/data/calendar/vn-default.toml``) with the official
swaps the package does not know yet; a deployment stacks its own on top. See ``docs/calendar.md``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, cast

import attrs
import holidays

from lienthong.errors import CalendarError

#: First year the calendar covers: ``holidays`` applies the observed-day rules from 1995.
MIN_YEAR = 1995
#: Last year the calendar covers: the end of ``holidays``' lunar tables for Vietnam (2100 in 0.109).
#: After it the package silently returns no holiday at all, not even 1 January.
MAX_YEAR: int = holidays.VN.end_year

_DEFAULT_OVERLAY_FILE = "vn-default.toml"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM_RE = re.compile(r"^(\d{2}):(\d{2})$")


@attrs.frozen
class OverlayDay:
    """One dated line of an overlay: a day off or a working day, with its name and source.

    ``source`` says where the decision comes from (dispatch number, URL): the shipped default
    overlay gives one for every line; a deployment should.
    """

    day: date
    name: str
    source: str = ""


def _to_days(value: Iterable[OverlayDay]) -> tuple[OverlayDay, ...]:
    return tuple(value)


def _to_periods(
    value: Iterable[Sequence[time]] | None,
) -> tuple[tuple[time, time], ...] | None:
    # Pairs are checked in Overlay.__attrs_post_init__, which names the overlay.
    if value is None:
        return None
    return cast("tuple[tuple[time, time], ...]", tuple(tuple(p) for p in value))


@attrs.frozen
class Overlay:
    """A parsed calendar overlay: extra days off, extra working days, optionally working hours.

    Build one from a TOML file with :meth:`load` (or :meth:`parse` / :meth:`from_mapping`), or
    directly, e.g. from a plugin::

        Overlay(
            days_off=[OverlayDay(date(2026, 11, 24), "Ngày Văn hóa Việt Nam", "...")],
            origin="plugin my_province",
        )

    ``periods`` is ``None`` when the overlay leaves the working hours alone. ``origin`` names the
    overlay (file path, plugin) in error messages. Construction validates everything and raises
    :class:`~lienthong.errors.CalendarError` naming the origin and the entry.
    """

    days_off: tuple[OverlayDay, ...] = attrs.field(default=(), converter=_to_days)
    working_days: tuple[OverlayDay, ...] = attrs.field(default=(), converter=_to_days)
    periods: tuple[tuple[time, time], ...] | None = attrs.field(default=None, converter=_to_periods)
    origin: str = "<overlay>"

    def __attrs_post_init__(self) -> None:
        seen: dict[date, str] = {}
        for table, entries in (("day_off", self.days_off), ("working_day", self.working_days)):
            for n, entry in enumerate(entries, 1):
                where = f"{self.origin}: [[{table}]] entry {n}"
                if not isinstance(entry, OverlayDay):
                    raise CalendarError(f"{where}: expected an OverlayDay, got {entry!r}")
                if type(entry.day) is not date:
                    raise CalendarError(f"{where}: 'date' must be a date, got {entry.day!r}")
                if not (MIN_YEAR <= entry.day.year <= MAX_YEAR):
                    raise CalendarError(
                        f"{where}: date {entry.day.isoformat()} is outside the years the "
                        f"calendar covers ({MIN_YEAR}–{MAX_YEAR})"
                    )
                if not isinstance(entry.name, str) or not entry.name.strip():
                    raise CalendarError(f"{where} ({entry.day.isoformat()}): 'name' is empty")
                if not isinstance(entry.source, str):
                    raise CalendarError(
                        f"{where} ({entry.day.isoformat()}): 'source' must be a string"
                    )
                if entry.day in seen:
                    other = seen[entry.day]
                    what = (
                        "listed twice as " + table
                        if other == table
                        else "both a day off and a working day"
                    )
                    raise CalendarError(f"{where}: {entry.day.isoformat()} is {what}")
                seen[entry.day] = table
        if self.periods is not None:
            _check_periods(self.periods, self.origin)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Overlay:
        """Read an overlay TOML file; errors name the file and the entry."""
        if not isinstance(path, str | PathLike):
            raise CalendarError(f"an overlay file is a path, not {type(path).__name__}")
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CalendarError(f"{p}: calendar overlay file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CalendarError(f"{p}: cannot read calendar overlay: {exc}") from None
        except ValueError as exc:  # a NUL or a lone surrogate in the path: repr() prints it
            raise CalendarError(f"{str(p)!r}: cannot read calendar overlay: {exc}") from None
        return cls.parse(text, origin=str(p))

    @classmethod
    def parse(cls, text: str, origin: str = "<string>") -> Overlay:
        """Parse overlay TOML text; ``origin`` names it in error messages."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CalendarError(f"{origin}: not valid TOML: {exc}") from None
        return cls.from_mapping(data, origin=origin)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], origin: str = "<mapping>") -> Overlay:
        """Build an overlay from already-decoded TOML (a mapping with the file's structure)."""
        unknown = sorted(set(data) - {"hours", "day_off", "working_day"})
        if unknown:
            raise CalendarError(
                f"{origin}: unknown key {unknown[0]!r} (expected [hours], [[day_off]], "
                "[[working_day]])"
            )
        periods = None
        if "hours" in data:
            periods = _parse_hours(data["hours"], origin)
        days_off = _parse_days(data.get("day_off", []), "day_off", origin)
        working = _parse_days(data.get("working_day", []), "working_day", origin)
        return cls(days_off=days_off, working_days=working, periods=periods, origin=origin)


def _parse_hours(value: object, origin: str) -> tuple[tuple[time, time], ...]:
    where = f"{origin}: [hours]"
    if not isinstance(value, Mapping):
        raise CalendarError(f"{where} must be a table")
    unknown = sorted(set(value) - {"periods"})
    if unknown:
        raise CalendarError(f"{where}: unknown key {unknown[0]!r} (expected 'periods')")
    if "periods" not in value:
        raise CalendarError(f"{where}: 'periods' is missing")
    raw = value["periods"]
    if not isinstance(raw, list) or not raw:
        raise CalendarError(f"{where}: 'periods' must be a non-empty list of [start, end] pairs")
    periods = []
    for n, pair in enumerate(raw, 1):
        if not isinstance(pair, list) or len(pair) != 2:
            raise CalendarError(f'{where}: period {n} must be a pair ["HH:MM", "HH:MM"]')
        periods.append(
            (
                _parse_time(pair[0], f"{where}: period {n}"),
                _parse_time(pair[1], f"{where}: period {n}"),
            )
        )
    return tuple(periods)


def _parse_time(value: object, where: str) -> time:
    if isinstance(value, time):  # a TOML local time (08:00:00)
        t = value
    elif isinstance(value, str) and (m := _HHMM_RE.match(value)):
        hh, mm = int(m.group(1)), int(m.group(2))
        if hh > 23 or mm > 59:
            raise CalendarError(f"{where}: {value!r} is not a time of day (HH:MM, 00:00–23:59)")
        t = time(hh, mm)
    else:
        raise CalendarError(f'{where}: {value!r} is not a time of day ("HH:MM")')
    return t


def _check_periods(periods: Sequence[tuple[time, time]], origin: str) -> None:
    where = f"{origin}: [hours] periods"
    if not periods:
        raise CalendarError(f"{where}: at least one period is needed")
    previous_end: time | None = None
    for n, pair in enumerate(periods, 1):
        if len(pair) != 2 or not all(type(x) is time for x in pair):
            raise CalendarError(f"{where}: period {n} must be a pair of times")
        start, end = pair
        for t in (start, end):
            if t.second or t.microsecond or t.tzinfo is not None:
                raise CalendarError(
                    f"{where}: period {n}: {t.isoformat()} must be a whole minute, local time"
                )
        if start >= end:
            raise CalendarError(
                f"{where}: period {n} ({start:%H:%M}–{end:%H:%M}) must end after it starts"
            )
        if previous_end is not None:
            if start < previous_end:
                raise CalendarError(
                    f"{where}: period {n} ({start:%H:%M}–{end:%H:%M}) overlaps or precedes the "
                    "previous one: list periods in order, without overlap"
                )
            if start == previous_end:
                # Touching periods would make "ends at the end of a period" ambiguous.
                raise CalendarError(
                    f"{where}: period {n} starts when the previous one ends ({start:%H:%M}): "
                    "write them as one period"
                )
        previous_end = end


def _parse_days(value: object, table: str, origin: str) -> list[OverlayDay]:
    if not isinstance(value, list):
        raise CalendarError(f"{origin}: '{table}' must be an array of tables ([[{table}]])")
    days = []
    for n, entry in enumerate(value, 1):
        where = f"{origin}: [[{table}]] entry {n}"
        if not isinstance(entry, Mapping):
            raise CalendarError(f"{where} must be a table")
        unknown = sorted(set(entry) - {"date", "name", "source"})
        if unknown:
            raise CalendarError(
                f"{where}: unknown key {unknown[0]!r} (expected 'date', 'name', 'source')"
            )
        for key in ("date", "name"):
            if key not in entry:
                raise CalendarError(f"{where}: '{key}' is missing")
        day = _parse_date(entry["date"], where)
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            raise CalendarError(f"{where} ({day.isoformat()}): 'name' must be a non-empty string")
        source = entry.get("source", "")
        if not isinstance(source, str):
            raise CalendarError(f"{where} ({day.isoformat()}): 'source' must be a string")
        days.append(OverlayDay(day, name.strip(), source.strip()))
    return days


def _parse_date(value: object, where: str) -> date:
    if isinstance(value, datetime):  # a TOML date-time: datetime is a date subclass, refuse it
        raise CalendarError(f"{where}: 'date' must be a date without a time, got {value}")
    if isinstance(value, date):  # a TOML local date (2026-01-02 unquoted)
        return value
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(f"{where}: 'date' = {value!r} is not a date (YYYY-MM-DD)")


@functools.cache
def default_overlay() -> Overlay:
    """lienthong's shipped default overlay (``lienthong/data/calendar/vn-default.toml``)."""
    # Chained "/" rather than joinpath(a, b, c): a namespace package's MultiplexedPath (3.11)
    # takes one segment at a time. Cached: an Overlay is immutable.
    ref = resources.files("lienthong") / "data" / "calendar" / _DEFAULT_OVERLAY_FILE
    return Overlay.parse(
        ref.read_text(encoding="utf-8"), origin=f"lienthong:{_DEFAULT_OVERLAY_FILE}"
    )
