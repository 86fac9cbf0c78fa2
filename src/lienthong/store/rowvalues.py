"""Row values as SQLite returns them, worked out from what a write gave it.

:class:`~lienthong.store.tracker.Tracker` keeps the covered values of the rows the engine may
still change and applies each write to them, so that it can hash a row without reading it back.
That holds only where SQLite stores a value as it was given: text in a TEXT column, an integer in
an INTEGER one, a null; anything else (a bool, a number in a TEXT column, text in an INTEGER
one, which SQLite would convert) makes the row's values unknown, and the tracker reads it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

#: A column default the tracker cannot tell.
UNKNOWN = object()


class Layout:
    """A table's covered columns as the tracker stores their values: where each goes in the row,
    the Python type SQLite returns for it (``None``: cannot tell), and its default."""

    def __init__(self, conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> None:
        declared = {
            r[1]: (str(r[2]).upper(), r[4]) for r in conn.execute(f"PRAGMA table_info({table})")
        }
        self.index = {c: i for i, c in enumerate(columns)}
        self.kinds: list[type | None] = []
        self.defaults: list[Any] = []
        for c in columns:
            kind, default = declared.get(c, ("", None))
            self.kinds.append(int if kind == "INTEGER" else str if kind == "TEXT" else None)
            self.defaults.append(_default(default, self.kinds[-1]))
        # The columns a call site's values go to, by the names it gives, in their order.
        self._plans: dict[tuple[str, ...], tuple[tuple[int, int, type | None], ...]] = {}
        #: Columns whose default the tracker cannot tell: an insert must give them.
        self.unknown = frozenset(
            c for c, d in zip(columns, self.defaults, strict=True) if d is UNKNOWN
        )

    def new_row(self, values: Mapping[str, Any]) -> list[Any] | None:
        """The covered values of a row inserted with ``values`` (``None``: cannot tell)."""
        if self.unknown and not self.unknown.issubset(values):
            return None
        return self.apply(list(self.defaults), values)

    def apply(self, row: list[Any], values: Mapping[str, Any]) -> list[Any] | None:
        """``row`` with ``values`` stored (in place), or ``None`` if SQLite would store one of
        them as another value (text in an INTEGER column, a number in a TEXT one, a bool). An
        integer beyond 64 bits never gets here: SQLite refuses to store it."""
        plan = self._plans.get(keys := tuple(values))
        if plan is None:
            if len(self._plans) > 256:  # call sites are few; a caller making up names is not
                self._plans.clear()
            plan = self._plans[keys] = tuple(
                (n, self.index[c], self.kinds[self.index[c]])
                for n, c in enumerate(keys)
                if c in self.index
            )
        given = tuple(values.values())
        for n, i, kind in plan:
            v = given[n]
            if v is not None and type(v) is not kind:
                return None
            row[i] = v
        return row


def _default(text: str | None, kind: type | None) -> Any:
    """A column's default as SQLite returns it (``PRAGMA table_info`` gives it as SQL text)."""
    if text is None:
        return None
    if kind is int and text.lstrip("-").isdigit():
        return int(text)
    if kind is str and len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return UNKNOWN


def as_list(row: Sequence[Any] | None) -> list[Any] | None:
    return None if row is None else list(row)


PLAIN = frozenset((str, int, type(None)))


def holds_plain(row: Sequence[Any]) -> bool:
    """Whether a row read from SQLite holds only text, integers and nulls (no REAL, no BLOB,
    which an edit may have left), so that :func:`plain_digest` hashes it."""
    return PLAIN.issuperset(map(type, row))
