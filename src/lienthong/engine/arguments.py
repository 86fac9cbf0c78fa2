"""The shape of what callers hand the Engine's public methods, checked before a command starts.

A dossier code, an officer id, a unit code, a reason must be text that SQLite can store (a str
with no lone surrogate: one, from a badly decoded byte, made the store raise
``UnicodeEncodeError``); a step id an integer SQLite can bind; an instant an aware datetime; a list
of documents a list, not one text taken letter by letter. Each check raises
:class:`~lienthong.errors.InvalidData` naming the argument. What the values *mean* (an unknown
unit, an empty reason) is the command groups' to check; the plain data (officers' data, the
applicant) is :func:`lienthong.plaindata.check_plain`'s.

Each check has a fast path for the common case (ASCII text, a plain int), so that the commands on
the hot path (complete, claim, open_steps) pay a few type tests.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from lienthong.errors import InvalidData
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.status import Channel

INT64_MAX = 2**63 - 1  # SQLite's INTEGER: a larger Python int cannot even be looked up
_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


def printable(text: str) -> str:
    """``text`` with any lone surrogate escaped, so that the message itself can be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def brief(text: str) -> str:
    """At most 300 characters of an exception's message: enough to recognise it."""
    return text if len(text) <= 300 else text[:300] + "…"


def shown(value: object) -> str:
    """A short repr of a caller's value for a message; it never raises (an int of 5 000 digits
    has no repr under Python's default limit, a hostile ``__repr__`` may fail)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    try:
        return printable(_repr.repr(value))
    except Exception:
        return f"a value of type {type(value).__name__}"


def text(value: object, name: str) -> str:
    """``value`` if it is text SQLite can store (encodable as UTF-8); :class:`InvalidData` naming
    the argument otherwise. A lone surrogate (from a badly decoded byte) is the usual culprit."""
    if type(value) is str and value.isascii():
        return value
    if not isinstance(value, str):
        raise InvalidData(f"{name}: expected text (str), got {type(value).__name__} {shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidData(
            f"{name}: {shown(value)} has a lone surrogate at position {e.start}: not text "
            "that can be stored (not encodable as UTF-8)"
        ) from None
    return value


def optional_text(value: object, name: str) -> str | None:
    return None if value is None else text(value, name)


def texts(value: object, name: str) -> list[str]:
    """A list or tuple of texts (not one text, which would be taken letter by letter)."""
    if not isinstance(value, list | tuple):
        raise InvalidData(
            f"{name}: expected a list of texts, got {type(value).__name__} {shown(value)}"
        )
    return [text(v, f"{name}[{i}]") for i, v in enumerate(value)]


def documents(value: object) -> list[Mapping[str, Any] | str]:
    """Submitted documents: a list or tuple of codes or mappings (checked as plain data later)."""
    if not isinstance(value, list | tuple):
        raise InvalidData(
            f"documents: expected a list of document codes or mappings, got "
            f"{type(value).__name__} {shown(value)}"
        )
    for i, d in enumerate(value):
        if isinstance(d, Mapping):
            text(d.get("code", ""), f"documents[{i}].code")
        else:
            text(d, f"documents[{i}]")
    return list(value)


def routing(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidData(
            f"routing: expected a mapping of lane role to unit code, got "
            f"{type(value).__name__} {shown(value)}"
        )
    return {
        text(role, "routing (a role)"): text(unit, f"routing[{shown(role)}]")
        for role, unit in value.items()
    }


def applicant(value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping) and "name" in value:
        text(value["name"], "applicant.name")
    return value  # type: ignore[return-value]  # the rest is StepCommands.receive's to check


def channel(value: object) -> Channel | int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3:
        return value
    raise InvalidData(f"channel: {shown(value)} is not 1 (direct), 2 (online) or 3 (postal)")


def instant(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidData(
            f"{name}: expected a timezone-aware datetime, got {type(value).__name__} {shown(value)}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidData(f"{name}: {value.isoformat()} is naive: give a timezone-aware instant")
    return value


def number(value: object, name: str, *, integer: bool = False) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "an integer" if integer else "a number"
        raise InvalidData(f"{name}: expected {what}, got {type(value).__name__} {shown(value)}")
    # Infinity is a budget with no end; NaN compares as nothing, and a count past 64 bits is not
    # one that the store or the calendar can hold.
    if value != value or value < 0 or (integer and value > INT64_MAX):
        raise InvalidData(f"{name}: must not be negative (or NaN), got {shown(value)}")


def check_options(
    *,
    clock: object,
    calendar: object,
    plugins: object,
    texts: Mapping[str, object],
    script_time_budget: object,
    counts: Mapping[str, object],
) -> None:
    """The Engine's options, checked before anything is built (their values are checked where
    they are used: ``scripts`` by the script engine, ``durability`` by the Store, ...)."""
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise InvalidData(f"clock: expected a Clock (with a now() method), got {shown(clock)}")
    if calendar is not None and not isinstance(calendar, WorkingCalendar):
        raise InvalidData(f"calendar: expected a WorkingCalendar, got {shown(calendar)}")
    if not isinstance(plugins, Iterable) or isinstance(plugins, str | bytes | Mapping):
        raise InvalidData(f"plugins: expected a list of plugins, got {shown(plugins)}")
    for name, value in texts.items():
        text(value, name)
    number(script_time_budget, "script_time_budget")
    for name, value in counts.items():
        number(value, name, integer=True)


def path(value: object, name: str) -> str:
    """A file or folder path SQLite and the OS can open: text (or a path) with no NUL and no
    lone surrogate."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidData(f"{name}: expected a path, got {type(value).__name__} {shown(value)}")
    text(value, name)
    if "\0" in value:
        raise InvalidData(f"{name}: {shown(value)} has a NUL character: not a path")
    return value
