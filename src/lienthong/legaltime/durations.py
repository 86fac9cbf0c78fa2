"""Working-time durations as written in BPMN properties and on the command line.

``3d`` is three working days, ``0.5d`` half a day, ``4h`` four working hours, ``90m`` ninety working
minutes, and ``1d4h`` their sum. One working day is :data:`MINUTES_PER_DAY` working minutes; the
calendar, not this module, decides which minutes are working ones.
"""

from __future__ import annotations

import re

from lienthong.errors import InvalidData

MINUTES_PER_DAY = 480
MINUTES_PER_HOUR = 60
SAME_DAY = "same-day"

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm])")
_UNIT = {"d": MINUTES_PER_DAY, "h": MINUTES_PER_HOUR, "m": 1}


def parse_duration(text: str, *, where: str = "duration") -> int:
    """Return the working minutes that ``text`` stands for.

    ``where`` names the place the text came from, for the error message. The total is rounded to
    the nearest whole minute; ``0`` (or an empty string) is zero.
    """
    s = (text or "").strip().lower().replace(" ", "")
    if s in ("", "0"):
        return 0
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise InvalidData(
            f"{where}: {text!r} is not a working-time duration "
            "(write e.g. '3d', '0.5d', '4h', '90m' or '1d4h')"
        )
    return round(total)


def format_duration(minutes: int) -> str:
    """Write ``minutes`` back in the shortest ``1d4h30m`` form (``0`` for zero)."""
    if minutes == 0:
        return "0"
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, MINUTES_PER_HOUR)
    out = ""
    if days:
        out += f"{days}d"
    if hours:
        out += f"{hours}h"
    if mins:
        out += f"{mins}m"
    return out
