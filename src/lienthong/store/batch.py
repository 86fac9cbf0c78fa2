"""State digests for the tick's set-wise path, one per action, as the one-at-a-time path writes
them (see :class:`Batch`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils

from lienthong.store.digests import STEP_COLUMNS, b64, plain_digest, read_hashes, row_digest
from lienthong.store.rowvalues import holds_plain
from lienthong.store.tracker import CHUNK, SOME_STEPS_SQL, of

_STEP_INDEX = {c: i for i, c in enumerate(STEP_COLUMNS)}


class Batch:
    """The digests of a run of step updates, each applied in memory in turn: the tick's
    set-wise path writes many at once and then all their audit rows, each of which must vouch
    for its dossier as it stood after its own action, as the one-at-a-time path writes them.

    Build it before the updates are stored; :meth:`apply` each update (the values are the
    text, integers and nulls that will be stored, which SQLite returns as they are); store
    them; write the audit rows; then :meth:`done`.
    """

    def __init__(self, db: sqlite_utils.Database, steps: Mapping[int, str]) -> None:
        """``steps``: the id of each step to update, and its dossier."""
        self._db = db
        conn = db.conn
        self._dossier = dict(steps)
        self._texts: dict[str, str] = {}  # each dossier's digest text after its last update
        codes = sorted(set(self._dossier.values()))
        t = of(db)
        if t is not None:
            self._states = t.hashes(conn, codes)
        else:
            self._states = {c: read_hashes(conn, c) for c in codes}
        # The steps' values as they stand: those the tracker keeps (it has just read the
        # dossiers it did not keep), the others read.
        self._rows: dict[int, list[Any]] = {}
        missing = []
        for step_id, code in self._dossier.items():
            row = t.values(code, step_id) if t is not None else None
            if row is None:
                missing.append(step_id)
            else:
                self._rows[step_id] = row
        missing.sort()
        for at in range(0, len(missing), CHUNK):
            chunk = missing[at : at + CHUNK]
            for r in conn.execute(SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                self._rows[r[1]] = list(r[1:])
        for step_id in self._dossier.keys() - self._rows.keys():  # gone meanwhile
            del self._dossier[step_id]
        # Rows of text, integers and nulls only stay so: the updates are checked.
        self._plain = {i for i, row in self._rows.items() if holds_plain(row)}
        # Each dossier's digest text in parts, the one of the step updated replaced each time.
        self._parts = {
            code: (
                "d:" + b64(dh),
                {i: f"{i}:{b64(h)}" for i, h in hashes.items()},
            )
            for code, (dh, hashes) in self._states.items()
        }

    def apply(self, step_id: int, values: Mapping[str, Any]) -> str:
        """The digest text of the step's dossier once ``values`` are stored in the step."""
        row = self._rows[step_id]
        for col, v in values.items():
            i = _STEP_INDEX.get(col)
            if i is None:
                continue
            if v is not None and type(v) not in (str, int):
                raise TypeError(f"{col}={v!r}: only text, integers and nulls are digested here")
            row[i] = v
        code = self._dossier[step_id]
        h = self._states[code][1][step_id] = (
            plain_digest(row) if step_id in self._plain else row_digest(row)
        )
        dpart, parts = self._parts[code]
        parts[step_id] = f"{step_id}:{b64(h)}"
        text = self._texts[code] = " ".join([dpart, *[parts[i] for i in sorted(parts)]])
        return text

    def done(self) -> None:
        """The updates and the audit rows are written: the tracker vouches for the result."""
        t = of(self._db)
        if t is None:
            return
        t.steps_written(self._rows)  # their kept values are stale; their hashes are right
        for code, (dh, hashes) in self._states.items():
            t.vouch(code, dh, hashes, self._texts.get(code))
