"""What data a dossier may hold: plain JSON that every reader of the stored state gives back.

A dossier's data is written to its workflow state (``state.py``: orjson, or the json module when
orjson declines; SpiffWorkflow's converters for the LT1 layout) and to the step and dossier rows
(json module), and read back by orjson, the json module, SpiffWorkflow's converters and SQLite's
JSON functions. A value one of them cannot give back exactly would be stored, and then every later
command on that dossier would fail, or see something else. :func:`check_plain` refuses it first, at
the boundary (officers' data, the applicant, plugins' results) and again before a workflow's state
is stored (what scripts made), naming the field by its path.

The limits, and the measurements behind them (orjson 3.13, SpiffWorkflow 3.2, CPython 3.11):

- Nesting: orjson writes at most 254 nested lists/mappings (beyond, ``state.py`` falls back to the
  json module) and reads at most 1024; the flat state puts a field's value 4 levels down. Reading
  a state back costs two Python frames a level (``copy.deepcopy`` when a task inherits its parent's
  data; SpiffWorkflow's ``restore`` for LT1), so with Python's default limit of 1000 frames a
  500-deep value fails to load even from a shallow stack, and less deep from a deep one (a web
  server's). :data:`MAX_DEPTH` is far below all of that.
- Integers: orjson reads integers in [-2**63, 2**64) exactly and turns larger ones into floats (or
  fails, past a double's range); SQLite's JSON functions keep only signed 64-bit integers. The json
  module and LT1 keep any (up to 4300 digits). :data:`MIN_INT`..:data:`MAX_INT` is signed 64-bit.
- Floats: orjson writes NaN and infinity as ``null``, the json module as ``NaN``, which orjson
  cannot read: neither is accepted. Finite floats (``-0.0`` and subnormals too) come back exactly.
- Text must be encodable as UTF-8: a lone surrogate made the store raise ``UnicodeEncodeError``.
- Types must be exactly dict, list, str, int, float, bool or None: everything else either fails to
  encode (set, bytes, datetime) or comes back as something else (a tuple as a list, an IntEnum or a
  dict subclass as the plain type). Tuples are refused rather than turned into lists, so that what
  a command was given, what the running workflow holds and what a restarted engine reads are the
  same value; turning them into lists in scripts' data would mean rewriting the live workflow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NoReturn

import orjson

from lienthong.errors import InvalidData

MAX_DEPTH = 64
"""The most lists and mappings nested in one field's value (the mapping of fields not counted)."""

MAX_BYTES = 1_000_000
"""The most bytes of compact UTF-8 JSON in one checked value (a command's data, an applicant)."""

MIN_INT = -(2**63)
MAX_INT = 2**63 - 1

# Bytes of compact JSON a node can take beyond its text: "-9223372036854775808" and a float's
# shortest form are under 25, plus a comma or a colon and a key's quotes. Text is at most 6 bytes a
# character (\u00XX for control characters). While that bound is within the limit, nothing needs
# encoding to know the size.
_NODE_BYTES = 26
_CHAR_BYTES = 6

_NOT_PLAIN = "not plain data (JSON)"
_PATH_PARTS = 12
_HINTS: dict[type, str] = {
    tuple: "a tuple: it would come back as a list; pass a list",
    set: "a set: JSON has no sets; pass a list",
    frozenset: "a frozenset: JSON has no sets; pass a list",
    bytes: "bytes: JSON has no bytes; pass text (base64, say)",
    bytearray: "a bytearray: JSON has no bytes; pass text (base64, say)",
}


def check_plain(
    value: Any,
    where: str,
    *,
    path: str = "",
    field_names: bool = False,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Raise :class:`InvalidData` unless ``value`` is plain JSON that reads back exactly.

    :param where: what the value is, to begin the message (``data for step 3 of X``).
    :param path: where the value sits, if it is a part of something (a field's name): the start of
        the path the message gives (``applicant.children[2].name``).
    :param field_names: ``value`` is a mapping of field names to values, as an officer's or a
        plugin's data: each name must be an identifier not starting with ``_`` (RestrictedPython's
        scripts cannot read such a name), and nesting is counted from the fields' values.
    :param max_depth: the most lists/mappings nested in a value.
    :param max_bytes: the most bytes the whole value may take as compact UTF-8 JSON.

    The walk keeps its own stack and stops at ``max_depth`` or once the value is known to exceed
    ``max_bytes``, so a hostile value (100,000 levels deep, a list that contains itself, a
    structure sharing its parts to be exponentially large) is refused quickly, without recursion.

    Most values are a single number or text, or a step's few fields of such: those are accepted
    without the walk (:func:`_clearly_plain`), which then runs only for the rest, and for every
    value that has a problem, so that the message is always the walk's.
    """
    if _clearly_plain(value, field_names, max_bytes, max_depth):
        return
    _walk(value, where, path, field_names, max_depth, max_bytes)


def _clearly_plain(value: Any, field_names: bool, max_bytes: int, max_depth: int) -> bool:
    """Whether the walk would accept ``value`` with no doubt: a scalar, or (``field_names``) a
    dict of valid field names to scalars, both far enough within ``max_bytes`` that the walk's
    size bound alone clears them. ``False`` only means "walk it"."""
    if not field_names:
        return _NODE_BYTES + _scalar_chars(value) * _CHAR_BYTES <= max_bytes
    if type(value) is not dict or max_depth < 0:
        return False
    # As the walk counts: the mapping, and a key and a value for each field.
    chars, nodes = 0, 1 + 2 * len(value)
    for k, v in value.items():
        if type(k) is not str or not k.isidentifier() or k.startswith("_"):
            return False
        chars += len(k) + _scalar_chars(v)
    return _CHAR_BYTES * chars + _NODE_BYTES * nodes <= max_bytes


def _scalar_chars(v: Any) -> int:
    """The characters the walk counts for a plain scalar (a string's length, else 0); a number
    beyond what the walk accepts, or anything else, counts as too many."""
    t = type(v)
    if t is str:
        if v.isascii():
            return len(v)
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return _TOO_MANY
        return len(v)
    if t is int:
        return 0 if MIN_INT <= v <= MAX_INT else _TOO_MANY
    if t is bool or v is None:
        return 0
    if t is float:
        return 0 if math.isfinite(v) else _TOO_MANY
    return _TOO_MANY


#: More characters than any limit allows: not clearly plain.
_TOO_MANY = 1 << 62


def _walk(
    value: Any, where: str, path: str, field_names: bool, max_depth: int, max_bytes: int
) -> None:
    """:func:`check_plain`'s walk of the whole value."""
    top = 0
    if field_names:
        if not isinstance(value, Mapping):
            raise InvalidData(f"{where}: must be a mapping of field names to values")
        for k in value:
            if type(k) is not str or not k.isidentifier() or k.startswith("_"):
                raise InvalidData(
                    f"{where}: field name {k!r} must be an identifier not starting with '_'"
                )
        if type(value) is not dict:
            value = dict(value)
        top = -1  # the mapping of fields is the workflow's namespace, not a value

    # Each entry: the value, its depth, and where it is as (key, parent entry's place) so that the
    # path is built only for the message.
    root: tuple[Any, Any] | None = (path, None) if path else None
    stack: list[tuple[Any, int, tuple[Any, Any] | None]] = [(value, top, root)]
    chars = nodes = 0
    while stack:
        v, depth, place = stack.pop()
        t = type(v)
        nodes += 1
        if t is str:
            chars += len(v)
            if chars + nodes > max_bytes:
                _too_big(where, max_bytes)
            if not v.isascii():
                _check_text(v, where, place, "")
        elif t is int:
            if not MIN_INT <= v <= MAX_INT:
                _fail(where, place, f"integer out of range {MIN_INT}..{MAX_INT} ({_digits(v)})")
        elif t is float:
            if not math.isfinite(v):
                _fail(where, place, f"{v} (JSON has no NaN or infinity)")
        elif t is bool or v is None:
            pass
        elif t is list or t is dict:
            depth += 1
            if depth > max_depth:
                _fail(where, place, f"too deep: more than {max_depth} nested lists/mappings", False)
            nodes += len(v)
            if chars + nodes > max_bytes:  # before a stack entry is made for each item
                _too_big(where, max_bytes)
            # Pushed last to first, so that the first problem in reading order is the one told.
            if t is list:
                stack.extend([(v[i], depth, (i, place)) for i in range(len(v) - 1, -1, -1)])
            else:
                entries = []
                for k, x in v.items():
                    if type(k) is not str:
                        _fail(where, place, f"key {k!r} is not a string")
                    chars += len(k)
                    if not k.isascii():
                        _check_text(k, where, place, "key ")
                    entries.append((x, depth, (k, place)))
                entries.reverse()
                stack.extend(entries)
                if chars + nodes > max_bytes:
                    _too_big(where, max_bytes)
        else:
            _fail(where, place, _unsupported(v))
    # Only near the limit is the exact size needed.
    if _CHAR_BYTES * chars + _NODE_BYTES * nodes > max_bytes and _size(value) > max_bytes:
        _too_big(where, max_bytes)


def _size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:  # a max_depth beyond orjson's 254 levels
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _check_text(text: str, where: str, place: Any, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        _fail(
            where,
            place,
            f"{what}text has a lone surrogate {text[e.start]!r} at position {e.start} "
            "(not encodable as UTF-8)",
        )


def _digits(n: int) -> str:
    # str() of a huge integer is slow, and refused past 4300 digits.
    return f"{n}" if n.bit_length() < 200 else f"{n.bit_length()} bits"


def _unsupported(v: Any) -> str:
    t = type(v)
    if t in _HINTS:
        return _HINTS[t]
    for base in (bool, int, float, str, list, dict):
        if isinstance(v, base):
            return (
                f"type {t.__name__}, a subclass of {base.__name__}: it would come back as a plain "
                f"{base.__name__}; pass one"
            )
    name = t.__name__
    if name in ("datetime", "date", "time"):
        return f"a {name}: JSON has none; pass its ISO 8601 text"
    return f"type {name}, which JSON has no form for"


def _too_big(where: str, max_bytes: int) -> NoReturn:
    raise InvalidData(f"{where}: too big: more than {max_bytes:,} bytes as JSON")


def _fail(where: str, place: Any, problem: str, plain: bool = True) -> NoReturn:
    parts = []
    while place is not None:
        key, place = place
        if type(key) is int:
            parts.append(f"[{key}]")
        elif key.isidentifier():
            parts.append(f".{key}")
        else:
            parts.append(f"[{key!r}]")
    parts.reverse()
    levels = len(parts)
    if levels > _PATH_PARTS:  # too deep to read: its start, its end and how deep
        parts[_PATH_PARTS - 2 : -1] = ["…"]
        parts.append(f" ({levels} levels down)")
    text = "".join(parts).removeprefix(".")
    problem = f"{_NOT_PLAIN}: {problem}" if plain else problem
    raise InvalidData(f"{where}: {text}: {problem}" if text else f"{where}: {problem}")
