"""Time is injected: the clock protocol, the system clock and a fixed clock.

lienthong never calls ``datetime.now()`` anywhere but in :class:`SystemClock`. Every component that
needs "now" takes a :class:`Clock`, so tests and the demo run simulated weeks in milliseconds with a
:class:`FixedClock` and no sleeping.

Instants are timezone-aware. The clocks here return them in Asia/Ho_Chi_Minh (:data:`VN_TZ`), the
zone in which lienthong displays every instant; a naive datetime is refused because it does not say
which instant it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

__all__ = ["VN_TZ", "Clock", "FixedClock", "SystemClock"]

#: Vietnam's time zone (UTC+07:00, no daylight saving time since 1975).
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current instant."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware."""
        ...


def _aware(t: object, what: str) -> datetime:
    """Return ``t`` in Asia/Ho_Chi_Minh, or raise if it is not an aware datetime."""
    if not isinstance(t, datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{what} must be timezone-aware, got the naive datetime {t.isoformat()}: "
            "attach a zone, e.g. t.replace(tzinfo=VN_TZ)"
        )
    return t.astimezone(VN_TZ)


class SystemClock:
    """The wall clock. The only place in lienthong that reads it."""

    def now(self) -> datetime:
        """Return the current instant in Asia/Ho_Chi_Minh."""
        return datetime.now(VN_TZ)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that only moves when told to: for tests, simulations and the demo.

    >>> clock = FixedClock(datetime(2025, 1, 24, 16, 30, tzinfo=VN_TZ))
    >>> clock.advance(hours=1).isoformat()
    '2025-01-24T17:30:00+07:00'
    """

    def __init__(self, start: datetime) -> None:
        """Start the clock at ``start`` (timezone-aware; naive raises ValueError)."""
        self._now = _aware(start, "FixedClock start")

    def now(self) -> datetime:
        """Return the clock's current instant, in Asia/Ho_Chi_Minh."""
        return self._now

    def set(self, t: datetime) -> None:
        """Move the clock to ``t`` (timezone-aware), forwards or backwards."""
        self._now = _aware(t, "FixedClock.set")

    def advance(self, **kwargs: float) -> datetime:
        """Move the clock forward by ``timedelta(**kwargs)`` and return the new instant.

        The keywords are :class:`datetime.timedelta`'s (``days``, ``hours``, ``minutes``, ...).
        This is wall-clock time, not working time: to reach a due instant, ``set`` it. A negative
        step raises ValueError (use :meth:`set` to go back on purpose).
        """
        step = timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError(f"FixedClock.advance cannot go backwards ({step}); use set()")
        self._now = self._now + step
        return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()!r})"
