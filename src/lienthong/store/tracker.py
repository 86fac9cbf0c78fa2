"""State digests made from what the engine wrote, without reading the dossier's rows again.

Reading a dossier's rows back costs more than the rest of a handoff's audit row (some 11 µs a
step row), so a :class:`Tracker`, one per connection, keeps for the dossiers it digested last the
hash of every row its last digest covered, and the values of the rows that may still change (the
dossier's and its open steps'). The write functions of :mod:`lienthong.store` tell it what they
wrote; the next digest of a dossier hashes the rows written from those values, and reads a row
again only where the values are not known (a write of values SQLite would convert, a write in SQL
such as ``attempts + 1``, a row no write of this connection showed it). Of a dossier it keeps
nothing of, it takes the row hashes from the dossier's last audit row (which holds them all), and
reads every row only where that row has no digest or some steps were written as a set.

What it keeps is trusted only while it is what the tables hold:

- A dossier's kept hashes are used in a transaction only if no other connection committed since
  they were checked (``PRAGMA data_version``), or if the dossier's last audit row still carries
  the digest made of them (another connection writing to the dossier writes an audit row).
  :meth:`Tracker.began` must hear of every transaction (the store's ``transaction()`` tells it).
- A rollback (of a command, of a savepoint, of a service attempt on the engine's connection)
  makes it forget everything (:func:`rolled_back`): what it was told may not have happened.
- A row changed with no write function telling (a plugin writing to lienthong's tables, an edit
  of the file) keeps its vouched hash, so the change stays visible to
  :func:`lienthong.store.digests.check`.

The test suite checks every digest a tracker makes against one read from the tables.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from lienthong.store.digests import (
    DOSSIER_COLUMNS,
    DOSSIER_SELECT,
    DOSSIER_SQL,
    DOSSIER_VALUES,
    STEP_COLUMNS,
    b64,
    digest,
    plain_digest,
    row_digest,
    split,
)
from lienthong.store.digests import STEPS_SQL as _STEPS_SQL
from lienthong.store.rowvalues import Layout, as_list, holds_plain

SOME_STEPS_SQL = "SELECT dossier, {} FROM steps WHERE id IN ({{}})".format(", ".join(STEP_COLUMNS))
_SOME_DOSSIERS_SQL = f"SELECT {DOSSIER_SELECT} FROM dossiers WHERE code IN ({{}})"
_STEPS_OF_SQL = "SELECT dossier, {} FROM steps WHERE dossier IN ({{}}) ORDER BY dossier, id".format(
    ", ".join(STEP_COLUMNS)
)
_LAST_OF_SQL = (
    "SELECT dossier, state_digest FROM audit WHERE id IN "
    "(SELECT max(id) FROM audit WHERE dossier IN ({}) GROUP BY dossier)"
)
_LAST_SQL = "SELECT state_digest FROM audit WHERE dossier = ? ORDER BY id DESC LIMIT 1"
#: Dossiers one tracker keeps (about 1 kB each).
CACHE_SIZE = 4096
#: Step rows written and not digested yet past which a tracker forgets everything (they pile up
#: only when commands write with no audit row; a tick's batch writes up to 5,000 at once).
_MAX_DIRTY = 20000
CHUNK = 500  # ids per IN (...) list: well under SQLite's limit on parameters
_CLOSED_AT = STEP_COLUMNS.index("closed_at")
_NO_DOSSIER = "d:" + b64(row_digest(None))


class _Kept:
    """What a tracker keeps of one dossier: the hashes (and text parts) of its rows as they stand,
    the digest text made of them (``None``: not made yet), and the values of the rows that may
    still change (the dossier's and its open steps')."""

    __slots__ = (
        "dpart",
        "epoch",
        "gen",
        "new",
        "parts",
        "row",
        "serial",
        "steps",
        "text",
    )

    def __init__(self) -> None:
        self.text: str | None = None
        # The dossier row's part of the digest text (``d:`` and its hash), and each step's
        # (``ID:`` and its hash) by step id: the text is made of them, never of decoded hashes.
        self.dpart = ""
        self.parts: dict[int, str] = {}
        self.row: list[Any] | None = None  # the dossier row's values, if known
        self.steps: dict[int, list[Any] | None] = {}  # step id -> values (None: not known)
        self.new = False  # inserted by this connection and not digested yet
        self.gen = -1  # the tracker's generation in which it was last known current
        self.epoch = -1  # the transaction, and the count of writes told, when it was digested
        self.serial = -1


class Tracker:
    """Digests for one connection's audit rows, from what its writes changed (see the module's
    docstring). Made by :func:`track`; :meth:`began` must hear of every transaction the
    connection begins (:class:`~lienthong.store.sqlite.Store` tells it)."""

    def __init__(self, conn: sqlite3.Connection, size: int = CACHE_SIZE) -> None:
        self.size = size
        # The faults value is no column: no write gives it, a new dossier has none (NULL).
        self.dossier_layout = Layout(conn, "dossiers", DOSSIER_VALUES)
        self.step_layout = Layout(conn, "steps", STEP_COLUMNS)
        self._kept: dict[str, _Kept] = {}
        self._code_of: dict[int, str] = {}  # step id -> dossier, for the kept steps' values
        self._dossiers: set[str] = set()  # dossier rows written since their last digest
        self._steps: set[int] = set()  # step rows written since their dossier's last digest
        self._whole: set[str] = set()  # dossiers some steps of which were written as a set
        self.epoch = 0  # transactions begun
        self.serial = 0  # writes told
        # Another connection's commit (PRAGMA data_version moved) starts a generation: a kept
        # dossier is then checked against its last audit row before it is used again.
        self._gen = 0
        self._version: int | None = None
        self._checked = -1

    def began(self) -> None:
        """The connection began a transaction."""
        self.epoch += 1

    # -- what was written --------------------------------------------------------------------
    def dossier_inserted(self, values: Mapping[str, Any]) -> None:
        self.serial += 1
        code = str(values["code"])
        self._drop(code)
        kept = self._kept[code] = _Kept()
        kept.new = True
        kept.row = self.dossier_layout.new_row(values)
        self._dossiers.add(code)
        self._trim()

    def dossier_updated(self, code: str, values: Mapping[str, Any]) -> None:
        self.serial += 1
        kept = self._kept.get(code)
        if kept is not None and kept.row is not None:
            kept.row = self.dossier_layout.apply(kept.row, values)
        self._dossiers.add(code)

    def step_inserted(self, step_id: int, values: Mapping[str, Any]) -> None:
        self.serial += 1
        code = values.get("dossier")
        kept = self._kept.get(code) if isinstance(code, str) else None
        if kept is not None:
            row = self.step_layout.new_row(values)
            if row is not None:
                row[0] = step_id
            kept.steps[step_id] = row
            self._code_of[step_id] = code  # type: ignore[assignment]
        self._written(step_id)

    def step_updated(self, step_id: int, values: Mapping[str, Any]) -> None:
        self.serial += 1
        code = self._code_of.get(step_id)
        if code is not None:
            steps = self._kept[code].steps
            row = steps.get(step_id)
            steps[step_id] = None if row is None else self.step_layout.apply(row, values)
        self._written(step_id)

    def steps_written(self, ids: Iterable[int]) -> None:
        """Rows whose new values the caller does not give."""
        self.serial += 1
        ids = list(ids)
        code_of = self._code_of
        if code_of:
            for step_id in ids:
                code = code_of.get(step_id)
                if code is not None:
                    self._kept[code].steps[step_id] = None
        self._steps.update(ids)
        if len(self._steps) > _MAX_DIRTY:
            self.forget()

    def all_steps_written(self, code: str) -> None:
        self.serial += 1
        self._whole.add(code)

    def faults_written(self, code: str) -> None:
        """The dossier's fault rows changed: its row's values are read again."""
        self.serial += 1
        kept = self._kept.get(code)
        if kept is not None:
            kept.row = None
        self._dossiers.add(code)

    def _written(self, step_id: int) -> None:
        self._steps.add(step_id)
        if len(self._steps) > _MAX_DIRTY:
            self.forget()

    def forget(self) -> None:
        """Keep nothing: the next digest of every dossier reads its rows."""
        self._kept.clear()
        self._code_of.clear()
        self._dossiers.clear()
        self._steps.clear()
        self._whole.clear()
        self.serial += 1

    # -- digests -----------------------------------------------------------------------------
    def digests(self, conn: sqlite3.Connection, codes: Iterable[str]) -> dict[str, str]:
        """The digest text of each dossier's rows as they stand now."""
        out = {}
        for code in codes:
            kept = self._kept.get(code)
            if (
                kept is not None
                and kept.serial == self.serial
                and kept.epoch == self.epoch
                and kept.text is not None
            ):
                out[code] = kept.text  # digested in this transaction, nothing written since
                continue
            out[code] = self._seal(conn, code, self._current(conn, code))
        return out

    def parts(
        self,
        conn: sqlite3.Connection,
        codes: Iterable[str],
        last: Mapping[str, object] | None = None,
    ) -> dict[str, tuple[str, dict[int, str]]]:
        """Each dossier's digest parts as the rows stand now (:func:`~.digests.split`; copies,
        which the caller may change; see :meth:`settled`). ``last``: the state digest of each
        one's last audit row, if the caller read it in this transaction."""
        codes = list(codes)
        # The dossiers it keeps nothing of, loaded together: a tick's run reaches many at once.
        keeps = self._kept
        fresh = [c for c in codes if c not in keeps or self._usable(conn, c) is None]
        out: dict[str, tuple[str, dict[int, str]]] = {}
        if not self._steps:
            # Of a dossier it keeps nothing of and was told of no write to, the parts are those
            # of its last audit row: taken as they are, nothing kept (see settled()).
            told = self._whole | self._dossiers
            untold = [c for c in fresh if c not in told] if told else fresh
            if last is not None:
                for code in untold:
                    parsed = split(last.get(code))
                    if parsed is not None:
                        out[code] = parsed
            elif len(untold) > 1:
                out = self._peek_many(conn, untold)
        loaded: dict[str, _Kept] = {}
        rest = [c for c in fresh if c not in out]
        if len(rest) > 1:
            self._generation(conn)
            loaded = self._load_many(conn, rest)
        for code in codes:
            if code not in out:
                kept = self._current(conn, code, loaded.get(code))
                out[code] = (kept.dpart, dict(kept.parts))
        return out

    def _peek_many(
        self, conn: sqlite3.Connection, codes: list[str]
    ) -> dict[str, tuple[str, dict[int, str]]]:
        """The digest parts on the last audit row of each dossier that has one with a digest."""
        out = {}
        for at in range(0, len(codes), CHUNK):
            chunk = codes[at : at + CHUNK]
            for code, text in conn.execute(_LAST_OF_SQL.format(",".join("?" * len(chunk))), chunk):
                parsed = split(text)
                if parsed is not None:
                    out[code] = parsed
        return out

    def values(self, code: str, step_id: int) -> list[Any] | None:
        """A copy of the step's values as the tracker keeps them (``None``: not kept)."""
        kept = self._kept.get(code)
        row = kept.steps.get(step_id) if kept is not None else None
        return None if row is None else list(row)

    def settled(self, codes: Iterable[str], step_ids: Iterable[int]) -> None:
        """The last audit row of each dossier, just written by the caller (a tick's
        :class:`~lienthong.store.batch.Batch`), holds the digest of its rows, the steps
        ``step_ids`` written since they were last digested included: keep nothing of them, and
        start their next digest from that row (:meth:`_load`), as for a dossier it never saw."""
        self.serial += 1
        kept = self._kept
        for code in codes:
            if code in kept:
                self._drop(code)
        self._dossiers.difference_update(codes)
        self._whole.difference_update(codes)
        if self._steps:
            self._steps.difference_update(step_ids)

    def _current(self, conn: sqlite3.Connection, code: str, kept: _Kept | None = None) -> _Kept:
        """The kept hashes of the dossier (``kept``: just loaded) brought up to date with what
        was written, or loaded."""
        if kept is None:
            kept = self._usable(conn, code)
        if kept is None:
            kept = self._load(conn, code)
        if code in self._dossiers:
            if kept.row is None:
                read = as_list(conn.execute(DOSSIER_SQL, [code]).fetchone())
                kept.dpart = "d:" + b64(row_digest(read))
                kept.row = read if read is not None and holds_plain(read) else None
            else:
                kept.dpart = "d:" + b64(plain_digest(kept.row))
        if self._steps:
            unknown = []
            code_of = self._code_of
            for step_id in list(self._steps):
                owner = code_of.get(step_id)
                if owner is None:
                    unknown.append(step_id)  # of no kept dossier, or of this one
                elif owner == code:
                    row = kept.steps.get(step_id)
                    if row is None:
                        unknown.append(step_id)
                    else:
                        self._hashed(code, kept, step_id, row, checked=True)
            if unknown:
                self._reread(conn, code, kept, sorted(unknown))
        return kept

    def _usable(self, conn: sqlite3.Connection, code: str) -> _Kept | None:
        kept = self._kept.get(code)
        if kept is None or code in self._whole:
            return None
        if kept.text is None:  # inserted by this connection: every write to it was told
            return kept if kept.new and kept.row is not None else None
        gen = self._generation(conn)
        if kept.gen == gen:
            return kept
        last = conn.execute(_LAST_SQL, [code]).fetchone()
        if last is not None and last[0] == kept.text:
            kept.gen = gen
            return kept
        return None

    def _generation(self, conn: sqlite3.Connection) -> int:
        """Moves on when another connection committed since the transaction before."""
        if self._checked != self.epoch:
            self._checked = self.epoch
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._version = version
                self._gen += 1
        return self._gen

    def _hashed(
        self, code: str, kept: _Kept, step_id: int, row: list[Any], *, checked: bool = False
    ) -> None:
        """Take the step row's hash (``checked``: its values were checked by :class:`Layout`)."""
        h = plain_digest(row) if checked else row_digest(row)
        kept.parts[step_id] = f"{step_id}:{b64(h)}"
        self._steps.discard(step_id)
        if row[_CLOSED_AT] is not None:  # a closed step no command changes: its hash is enough
            kept.steps.pop(step_id, None)
            self._code_of.pop(step_id, None)
        else:  # kept only if later writes can be applied to it and hashed as plain values
            kept.steps[step_id] = row if checked or holds_plain(row) else None
            self._code_of[step_id] = code

    def _reread(self, conn: sqlite3.Connection, code: str, kept: _Kept, ids: list[int]) -> None:
        """Read the written steps whose values are not known; forget the marks of steps that
        are gone (their insert was rolled back)."""
        for at in range(0, len(ids), CHUNK):
            chunk = ids[at : at + CHUNK]
            seen = set()
            for r in conn.execute(SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                seen.add(r[1])
                if r[0] == code:
                    self._hashed(code, kept, r[1], list(r[1:]))
            self._steps.difference_update(set(chunk) - seen)

    def _load(self, conn: sqlite3.Connection, code: str) -> _Kept:
        """The dossier's row hashes as its last audit row holds them, or else (no digest on
        it, or some steps written as a set) as read from every row."""
        if code not in self._whole:
            last = conn.execute(_LAST_SQL, [code]).fetchone()
            if last is not None:
                kept = self._from_digest(code, last[0])
                if kept is not None:
                    return kept
        return self._read(conn, code)

    def _from_digest(self, code: str, text: object, *, trim: bool = True) -> _Kept | None:
        parsed = split(text)
        if parsed is None:
            return None
        self._drop(code)
        kept = self._kept[code] = _Kept()
        kept.dpart, kept.parts = parsed
        kept.text = text  # type: ignore[assignment]  # split() took it for a digest: text
        kept.gen = self._gen
        if trim:
            self._trim()
        return kept

    def _read(self, conn: sqlite3.Connection, code: str) -> _Kept:
        """Every row of the dossier, read; the open ones' values kept."""
        self._drop(code)
        kept = self._kept[code] = _Kept()
        read = as_list(conn.execute(DOSSIER_SQL, [code]).fetchone())
        kept.dpart = "d:" + b64(row_digest(read))
        kept.row = read if read is not None and holds_plain(read) else None
        for r in conn.execute(_STEPS_SQL, [code]):
            self._hashed(code, kept, r[0], list(r))
        self._whole.discard(code)
        self._trim()
        return kept

    def _load_many(self, conn: sqlite3.Connection, codes: list[str]) -> dict[str, _Kept]:
        """:meth:`_load` of many dossiers, with a few statements (more than it keeps, maybe:
        the caller holds them)."""
        out: dict[str, _Kept] = {}
        rest = [c for c in codes if c in self._whole]
        from_audit = [c for c in codes if c not in self._whole]
        for at in range(0, len(from_audit), CHUNK):
            chunk = from_audit[at : at + CHUNK]
            found = set()
            for code, text in conn.execute(_LAST_OF_SQL.format(",".join("?" * len(chunk))), chunk):
                kept = self._from_digest(code, text, trim=False)
                if kept is not None:
                    out[code] = kept
                    found.add(code)
            rest.extend(c for c in chunk if c not in found)
        for at in range(0, len(rest), CHUNK):
            chunk = rest[at : at + CHUNK]
            marks = ",".join("?" * len(chunk))
            made = {}
            for code in chunk:
                self._drop(code)
                kept = made[code] = self._kept[code] = _Kept()
                kept.dpart = _NO_DOSSIER
            for r in conn.execute(_SOME_DOSSIERS_SQL.format(marks), chunk):
                kept, row = made[r[0]], list(r)
                kept.dpart = "d:" + b64(row_digest(row))
                kept.row = row if holds_plain(row) else None
            for r in conn.execute(_STEPS_OF_SQL.format(marks), chunk):
                self._hashed(r[0], made[r[0]], r[1], list(r[1:]))
            for kept in made.values():  # as read now: current in this generation
                kept.text, kept.gen = self._compose(kept), self._gen
            out.update(made)
            self._whole.difference_update(chunk)
        return out

    def _seal(self, conn: sqlite3.Connection, code: str, kept: _Kept) -> str:
        """The digest text of the kept parts, made the dossier's vouched state."""
        kept.text = self._compose(kept)
        kept.new = False
        kept.epoch, kept.serial = self.epoch, self.serial
        kept.gen = self._generation(conn)
        self._dossiers.discard(code)
        self._whole.discard(code)
        if self._steps:
            self._steps.difference_update(kept.parts)
        self._kept.pop(code, None)  # re-inserted: the most recently used is evicted last
        self._kept[code] = kept
        self._trim()
        return kept.text

    @staticmethod
    def _compose(kept: _Kept) -> str:
        parts = kept.parts
        return " ".join([kept.dpart, *[parts[i] for i in sorted(parts)]])

    def _trim(self) -> None:
        while len(self._kept) > self.size:
            self._drop(next(iter(self._kept)))

    def _drop(self, code: str) -> None:
        kept = self._kept.pop(code, None)
        if kept is not None:
            for step_id in kept.steps:
                self._code_of.pop(step_id, None)


_DOSSIER_SET = frozenset(DOSSIER_COLUMNS)
_STEP_SET = frozenset(STEP_COLUMNS)
_TRACKERS: weakref.WeakKeyDictionary[sqlite_utils.Database, Tracker] = weakref.WeakKeyDictionary()
_last: tuple[Any, Tracker | None] = (None, None)  # the last database looked up, and its tracker


def of(db: sqlite_utils.Database) -> Tracker | None:
    global _last
    last = _last
    if last[0] is db:
        return last[1]
    t = _TRACKERS.get(db)
    _last = (db, t)
    return t


# -- what the store's functions call ------------------------------------------------------------


def track(db: sqlite_utils.Database) -> Tracker:
    """The tracker of the database's connection, made on first use (after the migrations)."""
    global _last
    t = _TRACKERS.get(db)
    if t is None:
        t = _TRACKERS[db] = Tracker(db.conn)
        _last = (None, None)
    return t


def began(db: sqlite_utils.Database) -> None:
    """The connection began a transaction."""
    t = of(db)
    if t is not None:
        t.epoch += 1


def dossier_inserted(db: sqlite_utils.Database, values: Mapping[str, Any]) -> None:
    t = of(db)
    if t is not None:
        t.dossier_inserted(values)


def dossier_updated(db: sqlite_utils.Database, code: str, values: Mapping[str, Any]) -> None:
    """A change of none of the covered columns is no change."""
    t = of(db)
    if t is not None and not _DOSSIER_SET.isdisjoint(values):
        t.dossier_updated(code, values)


def step_inserted(db: sqlite_utils.Database, step_id: int, values: Mapping[str, Any]) -> None:
    t = of(db)
    if t is not None:
        t.step_inserted(step_id, values)


def step_updated(db: sqlite_utils.Database, step_id: int, values: Mapping[str, Any]) -> None:
    """A change of none of the covered columns is no change."""
    t = of(db)
    if t is not None and not _STEP_SET.isdisjoint(values):
        t.step_updated(step_id, values)


def steps_written(db: sqlite_utils.Database, ids: Iterable[int]) -> None:
    """Step rows changed by SQL whose result the caller does not know."""
    t = of(db)
    if t is not None:
        t.steps_written(ids)


def all_steps_written(db: sqlite_utils.Database, code: str) -> None:
    """Some of the dossier's steps changed, which ones the caller does not know."""
    t = of(db)
    if t is not None:
        t.all_steps_written(code)


def faults_written(db: sqlite_utils.Database, code: str) -> None:
    """Rows of ``dossier_faults`` of the dossier were written (they count in its row's hash)."""
    t = of(db)
    if t is not None:
        t.faults_written(code)


def rolled_back(db: sqlite_utils.Database) -> None:
    """What the connection was told since its last commit may not have happened."""
    t = of(db)
    if t is not None:
        t.forget()


def digests(db: sqlite_utils.Database, codes: Iterable[str]) -> dict[str, str]:
    """The digest text of each dossier's rows, through the connection's tracker if it has one."""
    t = of(db)
    if t is not None:
        return t.digests(db.conn, codes)
    return {code: digest(db, code) for code in codes}
