"""The national portal's instants: ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh (domain.md §5, as
the portal's adapter services take them), e.g. ``20250303090000`` for 09:00 on 3 March 2025."""

from __future__ import annotations

import functools
import re
from datetime import datetime

from lienthong.legaltime.clock import VN_TZ

#: ``strftime`` for the portal's instants.
FORMAT = "%Y%m%d%H%M%S"
#: What a portal instant looks like.
PATTERN = re.compile(r"^\d{14}$")


def portal_date(t: datetime | str | None) -> str | None:
    """An instant (a timezone-aware datetime or the store's ISO 8601 text) as the portal
    writes it, in Vietnamese time; ``None`` for none."""
    if t is None or t == "":
        return None
    if isinstance(t, str):
        return _from_text(t)
    if t.tzinfo is None:
        raise ValueError(f"portal_date: {t.isoformat()} has no time zone")
    return t.astimezone(VN_TZ).strftime(FORMAT)


@functools.lru_cache(maxsize=4096)
def _from_text(text: str) -> str | None:
    # The engine builds a dossier's payload after every command that changed it: the same
    # stored instants, formatted again and again.
    return portal_date(datetime.fromisoformat(text))


def from_portal_date(text: str) -> datetime:
    """The instant a portal date stands for (Vietnamese time): the inverse of
    :func:`portal_date`, to the second."""
    if not PATTERN.match(text):
        raise ValueError(f"{text!r} is not a portal date (yyyyMMddHHmmss)")
    return datetime.strptime(text, FORMAT).replace(tzinfo=VN_TZ)
