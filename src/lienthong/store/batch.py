"""State digests for the tick's set-wise path, one per action, as the one-at-a-time path writes
them (see :class:`Batch`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils

from lienthong.store.digests import STEP_COLUMNS, b64, join_parts, read_parts, row_digest
from lienthong.store.due import COVERED, COVERED_AT, LAST_DIGEST
from lienthong.store.tracker import of

_STEP_INDEX = {c: i for i, c in enumerate(STEP_COLUMNS)}


class Batch:
    """The digests of a run of step updates, each applied in memory in turn: the tick's
    set-wise path writes many at once and then all their audit rows, each of which must vouch
    for its dossier as it stood after its own action, as the one-at-a-time path writes them.

    Build it before the updates are stored, from the steps' rows as read in the transaction
    (:func:`lienthong.store.due.timer_rows` reads every covered column); :meth:`apply` each
    update (the values are the text, integers and nulls that will be stored, which SQLite
    returns as they are); store them; write the audit rows; then :meth:`done`. The digest texts
    are made from their parts (:func:`~lienthong.store.digests.split`): no hash is decoded.
    """

    def __init__(self, db: sqlite_utils.Database, rows: Mapping[int, Mapping[str, Any]]) -> None:
        """``rows``: each step to update, by id, as :func:`lienthong.store.due.timer_rows`
        reads it now: its ``dossier``, the row as read under :data:`~lienthong.store.due.COVERED`
        (its items :data:`~lienthong.store.due.COVERED_AT`: the values of every column of
        :data:`~lienthong.store.digests.STEP_COLUMNS`) and, read ``with_digests``, its dossier's
        last audit row's digest under :data:`~lienthong.store.due.LAST_DIGEST`."""
        self._db = db
        self._dossier = {step_id: str(r["dossier"]) for step_id, r in rows.items()}
        # Each step's values as read, made a list (which the updates change) when first updated.
        self._rows: dict[int, Any] = {step_id: r[COVERED] for step_id, r in rows.items()}
        codes = sorted(set(self._dossier.values()))
        t = of(db)
        if t is not None:
            last = {str(r["dossier"]): r[LAST_DIGEST] for r in rows.values() if LAST_DIGEST in r}
            self._parts = t.parts(db.conn, codes, last if len(last) == len(codes) else None)
        else:
            self._parts = {c: read_parts(db.conn, c) for c in codes}
        self._texts: dict[str, str] = {}  # each dossier's digest text after its last update

    def apply(self, step_id: int, values: Mapping[str, Any]) -> str:
        """The digest text of the step's dossier once ``values`` are stored in the step."""
        row = self._rows[step_id]
        if type(row) is not list:
            row = self._rows[step_id] = list(row[COVERED_AT])
        index = _STEP_INDEX
        for col, v in values.items():
            i = index.get(col)
            if i is not None:
                if v is not None and type(v) is not str and type(v) is not int:
                    raise TypeError(f"{col}={v!r}: only text, integers and nulls are digested")
                row[i] = v
        code = self._dossier[step_id]
        dpart, parts = self._parts[code]
        part = parts[step_id] = f"{step_id}:{b64(row_digest(row))}"
        # Most dossiers have one step open, the one the action is on.
        text = f"{dpart} {part}" if len(parts) == 1 else join_parts(dpart, parts)
        self._texts[code] = text
        return text

    def texts(self) -> dict[str, str]:  # (support.py checks each against the tables)
        """Each dossier's digest text as the updates applied so far leave its rows."""
        return {code: join_parts(*parts) for code, parts in self._parts.items()}

    def done(self) -> None:
        """The updates and the audit rows are written: each dossier's last audit row holds the
        digest of its rows, the tracker starts from it next time."""
        t = of(self._db)
        if t is not None:
            t.settled(self._parts, self._dossier)
