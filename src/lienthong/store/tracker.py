"""State digests made from what the engine wrote, without reading the dossier's rows again.

Reading a dossier's rows back costs more than the rest of a handoff's audit row (some 11 µs a
step row), so a :class:`Tracker`, one per connection, keeps for the dossiers it digested last the
hash of every row its last digest covered, and the values of the rows that may still change (the
dossier's and its open steps'). The write functions of :mod:`lienthong.store` tell it what they
wrote; the next digest of a dossier hashes the rows written from those values, and reads a row
again only where the values are not known (a write of values SQLite would convert, a write in SQL
such as ``attempts + 1``, a row no write of this connection showed it).

What it keeps is trusted only while it is what the tables hold:

- A dossier's kept hashes are used only if the dossier's last audit row carries the digest the
  tracker made from them: no other connection wrote to the dossier since (it would have written
  an audit row), and the command that wrote that row was not rolled back.
- A rollback (of a command, of a savepoint, of a service attempt on the engine's connection)
  makes it forget everything (:func:`rolled_back`): what it was told may not have happened.
- A row changed with no write function telling (a plugin writing to lienthong's tables, an edit
  of the file) keeps its vouched hash, so the change stays visible to
  :func:`lienthong.store.digests.check`.

The test suite checks every digest a tracker makes against one read from the tables.
"""

from __future__ import annotations

import hashlib
import sqlite3
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlite_utils

from lienthong.store.digests import (
    DOSSIER_COLUMNS,
    DOSSIER_SQL,
    STEP_COLUMNS,
    compose,
    digest,
    plain_digest,
    read_hashes,
    row_digest,
)
from lienthong.store.digests import STEPS_SQL as _STEPS_SQL

_SOME_STEPS_SQL = "SELECT dossier, {} FROM steps WHERE id IN ({{}})".format(", ".join(STEP_COLUMNS))
_SOME_DOSSIERS_SQL = "SELECT {} FROM dossiers WHERE code IN ({{}})".format(
    ", ".join(DOSSIER_COLUMNS)
)
_STEPS_OF_SQL = "SELECT dossier, {} FROM steps WHERE dossier IN ({{}}) ORDER BY dossier, id".format(
    ", ".join(STEP_COLUMNS)
)
_LAST_SQL = "SELECT state_digest FROM audit WHERE dossier = ? ORDER BY id DESC LIMIT 1"
#: Dossiers one tracker keeps (about 1 kB each).
CACHE_SIZE = 4096
#: Step rows written and not digested yet past which a tracker forgets everything (they pile up
#: only when commands write with no audit row).
_MAX_DIRTY = 4096
_CHUNK = 500  # ids per IN (...) list: well under SQLite's limit on parameters
_UNKNOWN = object()  # a default value the tracker cannot tell
_CLOSED_AT = STEP_COLUMNS.index("closed_at")


class _Layout:
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
            c for c, d in zip(columns, self.defaults, strict=True) if d is _UNKNOWN
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
    return _UNKNOWN


class _Kept:
    """What a tracker keeps of one dossier: the hashes (and locators) of its rows as they stand,
    the digest text made of them (``None``: not made yet), and the values of the rows that may
    still change (the dossier's and its open steps')."""

    __slots__ = (
        "dh",
        "dloc",
        "epoch",
        "gen",
        "hashes",
        "locs",
        "new",
        "row",
        "serial",
        "steps",
        "text",
    )

    def __init__(self) -> None:
        self.text: str | None = None
        self.dh = b""  # the dossier row's hash, and its locator
        self.dloc = ""
        self.hashes: dict[int, bytes] = {}  # step id -> the row's hash
        self.locs: dict[int, str] = {}  # step id -> "id:locator"
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
        self.dossier_layout = _Layout(conn, "dossiers", DOSSIER_COLUMNS)
        self.step_layout = _Layout(conn, "steps", STEP_COLUMNS)
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
        for step_id in ids:
            code = self._code_of.get(step_id)
            if code is not None:
                self._kept[code].steps[step_id] = None
            self._written(step_id)

    def all_steps_written(self, code: str) -> None:
        self.serial += 1
        self._whole.add(code)

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

    def hashes(
        self, conn: sqlite3.Connection, codes: Iterable[str]
    ) -> dict[str, tuple[bytes, dict[int, bytes]]]:
        """Each dossier's row hashes as the rows stand now (copies, which the caller may change
        and then :meth:`vouch` for)."""
        codes = list(codes)
        # The dossiers it must read, read together: a tick's run reaches many at once.
        fresh = [c for c in codes if self._usable(conn, c) is None]
        read = self._read_many(conn, fresh) if len(fresh) > 1 else {}
        out = {}
        for code in codes:
            kept = read.get(code) or self._current(conn, code)
            out[code] = (kept.dh, dict(kept.hashes))
        return out

    def values(self, code: str, step_id: int) -> list[Any] | None:
        """A copy of the step's values as the tracker keeps them (``None``: not kept)."""
        kept = self._kept.get(code)
        row = kept.steps.get(step_id) if kept is not None else None
        return None if row is None else list(row)

    def vouch(
        self,
        code: str,
        dossier_hash: bytes,
        step_hashes: dict[int, bytes],
        text: str | None = None,
    ) -> str:
        """Take these as the dossier's row hashes (see :class:`Batch`; ``text``: their digest
        text, if the caller made it already); the digest text."""
        kept = self._kept.get(code)
        if kept is None:
            kept = self._kept[code] = _Kept()
        kept.dh, kept.dloc = dossier_hash, dossier_hash[:4].hex()
        kept.hashes = step_hashes
        kept.locs = {i: f"{i}:{h[:4].hex()}" for i, h in step_hashes.items()}
        return self._seal(None, code, kept, text)

    def _current(self, conn: sqlite3.Connection, code: str) -> _Kept:
        """The kept hashes of the dossier brought up to date with what was written, or read."""
        kept = self._usable(conn, code)
        if kept is None:
            return self._read(conn, code)
        if code in self._dossiers:
            if kept.row is None:
                read = _list(conn.execute(DOSSIER_SQL, [code]).fetchone())
                kept.dh = row_digest(read)
                kept.row = read if read is not None and _plain(read) else None
            else:
                kept.dh = plain_digest(kept.row)
            kept.dloc = kept.dh[:4].hex()
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
                        self._hashed(code, kept, step_id, row, plain=True)
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
        self, code: str, kept: _Kept, step_id: int, row: list[Any], *, plain: bool = False
    ) -> None:
        """Take the step row's hash (``plain``: its values were checked by :class:`_Layout`)."""
        h = plain_digest(row) if plain else row_digest(row)
        kept.hashes[step_id] = h
        kept.locs[step_id] = f"{step_id}:{h[:4].hex()}"
        self._steps.discard(step_id)
        if row[_CLOSED_AT] is not None:  # a closed step no command changes: its hash is enough
            kept.steps.pop(step_id, None)
            self._code_of.pop(step_id, None)
        else:  # kept only if later writes can be applied to it and hashed as plain values
            kept.steps[step_id] = row if plain or _plain(row) else None
            self._code_of[step_id] = code

    def _reread(self, conn: sqlite3.Connection, code: str, kept: _Kept, ids: list[int]) -> None:
        """Read the written steps whose values are not known; forget the marks of steps that
        are gone (their insert was rolled back)."""
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at : at + _CHUNK]
            seen = set()
            for r in conn.execute(_SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                seen.add(r[1])
                if r[0] == code:
                    self._hashed(code, kept, r[1], list(r[1:]))
            self._steps.difference_update(set(chunk) - seen)

    def _read(self, conn: sqlite3.Connection, code: str) -> _Kept:
        """Every row of the dossier, read; the open ones' values kept."""
        self._drop(code)
        kept = self._kept[code] = _Kept()
        read = _list(conn.execute(DOSSIER_SQL, [code]).fetchone())
        kept.dh = row_digest(read)
        kept.row = read if read is not None and _plain(read) else None
        kept.dloc = kept.dh[:4].hex()
        for r in conn.execute(_STEPS_SQL, [code]):
            self._hashed(code, kept, r[0], list(r))
        self._whole.discard(code)
        self._trim()
        return kept

    def _read_many(self, conn: sqlite3.Connection, codes: list[str]) -> dict[str, _Kept]:
        """:meth:`_read` of many dossiers, with a few statements."""
        out: dict[str, _Kept] = {}
        for at in range(0, len(codes), _CHUNK):
            chunk = codes[at : at + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for code in chunk:
                self._drop(code)
                out[code] = self._kept[code] = _Kept()
                out[code].dh = row_digest(None)
                out[code].dloc = out[code].dh[:4].hex()
            for r in conn.execute(_SOME_DOSSIERS_SQL.format(marks), chunk):
                kept, row = out[r[0]], list(r)
                kept.dh = row_digest(row)
                kept.dloc = kept.dh[:4].hex()
                kept.row = row if _plain(row) else None
            for r in conn.execute(_STEPS_OF_SQL.format(marks), chunk):
                self._hashed(r[0], out[r[0]], r[1], list(r[1:]))
        self._whole.difference_update(codes)
        self._trim()
        return out

    def _seal(
        self, conn: sqlite3.Connection | None, code: str, kept: _Kept, text: str | None = None
    ) -> str:
        """The digest text of the kept hashes (``text``, if given), made the dossier's vouched
        state."""
        hashes = kept.hashes
        if text is None:
            ids = sorted(hashes)
            top = hashlib.sha256(b"".join([kept.dh, *[hashes[i] for i in ids]])).hexdigest()
            locs = kept.locs
            text = " ".join([top, kept.dloc, *[locs[i] for i in ids]])
        kept.text = text
        kept.new = False
        kept.epoch, kept.serial = self.epoch, self.serial
        kept.gen = self._generation(conn) if conn is not None else self._gen
        self._dossiers.discard(code)
        self._whole.discard(code)
        if self._steps:
            self._steps.difference_update(hashes)
        self._kept[code] = self._kept.pop(code)  # the most recently used is evicted last
        return kept.text

    def _trim(self) -> None:
        while len(self._kept) > self.size:
            self._drop(next(iter(self._kept)))

    def _drop(self, code: str) -> None:
        kept = self._kept.pop(code, None)
        if kept is not None:
            for step_id in kept.steps:
                self._code_of.pop(step_id, None)


def _list(row: Sequence[Any] | None) -> list[Any] | None:
    return None if row is None else list(row)


_PLAIN = frozenset((str, int, type(None)))


def _plain(row: Sequence[Any]) -> bool:
    """Whether a row read from SQLite holds only text, integers and nulls (no REAL, no BLOB,
    which an edit may have left), so that :func:`plain_digest` hashes it."""
    return _PLAIN.issuperset(map(type, row))


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
        t = _of(db)
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
        for at in range(0, len(missing), _CHUNK):
            chunk = missing[at : at + _CHUNK]
            for r in conn.execute(_SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                self._rows[r[1]] = list(r[1:])
        for step_id in self._dossier.keys() - self._rows.keys():  # gone meanwhile
            del self._dossier[step_id]

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
        dh, hashes = self._states[code]
        hashes[step_id] = row_digest(row)
        text = self._texts[code] = compose(dh, hashes)
        return text

    def done(self) -> None:
        """The updates and the audit rows are written: the tracker vouches for the result."""
        t = _of(self._db)
        if t is None:
            return
        t.steps_written(self._rows)  # their kept values are stale; their hashes are right
        for code, (dh, hashes) in self._states.items():
            t.vouch(code, dh, hashes, self._texts.get(code))


_STEP_INDEX = {c: i for i, c in enumerate(STEP_COLUMNS)}
_DOSSIER_SET = frozenset(DOSSIER_COLUMNS)
_STEP_SET = frozenset(STEP_COLUMNS)
_TRACKERS: weakref.WeakKeyDictionary[sqlite_utils.Database, Tracker] = weakref.WeakKeyDictionary()
_last: tuple[Any, Tracker | None] = (None, None)  # the last database looked up, and its tracker


def _of(db: sqlite_utils.Database) -> Tracker | None:
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
    t = _of(db)
    if t is not None:
        t.epoch += 1


def dossier_inserted(db: sqlite_utils.Database, values: Mapping[str, Any]) -> None:
    t = _of(db)
    if t is not None:
        t.dossier_inserted(values)


def dossier_updated(db: sqlite_utils.Database, code: str, values: Mapping[str, Any]) -> None:
    """A change of none of the covered columns is no change."""
    t = _of(db)
    if t is not None and not _DOSSIER_SET.isdisjoint(values):
        t.dossier_updated(code, values)


def step_inserted(db: sqlite_utils.Database, step_id: int, values: Mapping[str, Any]) -> None:
    t = _of(db)
    if t is not None:
        t.step_inserted(step_id, values)


def step_updated(db: sqlite_utils.Database, step_id: int, values: Mapping[str, Any]) -> None:
    """A change of none of the covered columns is no change."""
    t = _of(db)
    if t is not None and not _STEP_SET.isdisjoint(values):
        t.step_updated(step_id, values)


def steps_written(db: sqlite_utils.Database, ids: Iterable[int]) -> None:
    """Step rows changed by SQL whose result the caller does not know."""
    t = _of(db)
    if t is not None:
        t.steps_written(ids)


def all_steps_written(db: sqlite_utils.Database, code: str) -> None:
    """Some of the dossier's steps changed, which ones the caller does not know."""
    t = _of(db)
    if t is not None:
        t.all_steps_written(code)


def rolled_back(db: sqlite_utils.Database) -> None:
    """What the connection was told since its last commit may not have happened."""
    t = _of(db)
    if t is not None:
        t.forget()


def digests(db: sqlite_utils.Database, codes: Iterable[str]) -> dict[str, str]:
    """The digest text of each dossier's rows, through the connection's tracker if it has one."""
    t = _of(db)
    if t is not None:
        return t.digests(db.conn, codes)
    return {code: digest(db, code) for code in codes}
