"""State digests: what an audit row vouches for in the ``dossiers`` and ``steps`` tables.

Every audit row of a dossier written since migration 004 carries, in its ``state`` column (part
of the row's hash), a digest of the dossier's row and all its step rows as they stood when the
row was written. A command writes its audit rows after what they record, so the dossier's last
audit row vouches for the rows as the last command left them; :func:`check` compares that with
what the tables hold now (``lienthong audit verify --deep``).

Only the columns that record what was decided, by whom and when are covered
(:data:`DOSSIER_COLUMNS`, :data:`STEP_COLUMNS`). Left out are the columns that change without an
audit row by design:

- ``dossiers.apology_fired``: the tick's flag that the apology reminder ran (it is set even when
  only the hand-over is left and no reminder row is written); the reminder itself is a row.
- ``dossiers.state_rev``: never written (the workflow state's revision is in
  ``dossier_states``, which is not covered either: it is SpiffWorkflow's serialized state).
- ``steps.next_attempt_at``, ``steps.leased_by``, ``steps.lease_until``: a service step's job
  schedule and lease, taken and let go by workers between attempts; the attempts themselves
  (``status``, ``attempts``, ``last_error``) are covered.

The digest is text: the SHA-256 (hex) over the SHA-256 of each row in order (the dossier's, then
its steps' by id), then a locator of 8 hex digits per row (``d`` for the dossier row, the step id
for each step), so that a mismatch names the row that differs, the step that is missing or the
one that was added. The locators only say where to look; the full digest is what is checked.
A row is hashed as the compact JSON array of its covered columns in order, as SQLite returns
them (see :func:`row_digest`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import orjson
import sqlite_utils

#: The covered columns of a dossier row, in the order they are hashed.
DOSSIER_COLUMNS = (
    "code",
    "procedure_code",
    "procedure_version",
    "receiving_unit",
    "channel",
    "status",
    "applicant",
    "documents",
    "routing",
    "arrived_at",
    "received_at",
    "clock_start",
    "appointment",
    "original_appointment",
    "resolved_at",
    "closed_at",
    "result_class",
    "note",
    "fee",
    "supplements",
    "supplement_requested_at",
    "supplement_close_at",
    "apology_at",
    "apology_issued_at",
    "paused_since",
    "paused_minutes",
    "kpi_waiting_minutes",
    "kpi_class",
    "late_minutes",
    "apology_required_at",
    "apology_unit",
    "apology_by",
    "apology_late",
)
#: The covered columns of a step row (``id`` first), in the order they are hashed. The
#: ``dossier`` column is implied: the rows hashed are those that name the dossier.
STEP_COLUMNS = (
    "id",
    "task_id",
    "spec_id",
    "name",
    "kind",
    "step_kind",
    "role",
    "unit",
    "assignee",
    "status",
    "opened_at",
    "claimed_at",
    "closed_at",
    "closed_by",
    "share_minutes",
    "due_at",
    "result_class",
    "data",
    "attempts",
    "last_error",
    "warn_at",
    "overdue_fired",
    "escalation_level",
    "escalated_to",
    "next_escalation_at",
    "first_overdue_at",
    "late_minutes",
    "arrived_late",
)

_DOSSIER_SET = frozenset(DOSSIER_COLUMNS)
_STEP_SET = frozenset(STEP_COLUMNS)
_DOSSIER_SQL = f"SELECT {', '.join(DOSSIER_COLUMNS)} FROM dossiers WHERE code = ?"
# steps_dossier is an index on (dossier): its entries are in rowid order, so no sort is needed.
_STEPS_SQL = f"SELECT {', '.join(STEP_COLUMNS)} FROM steps WHERE dossier = ? ORDER BY id"
_SOME_STEPS_SQL = "SELECT dossier, {} FROM steps WHERE id IN ({{}})".format(", ".join(STEP_COLUMNS))
_LAST_SQL = "SELECT state_digest FROM audit WHERE dossier = ? ORDER BY id DESC LIMIT 1"
_NO_ROW = hashlib.sha256(b"null").digest()
#: Dossiers whose digest rows one connection keeps (about 1 kB each).
CACHE_SIZE = 4096
#: Step ids written and not yet digested past which a tracker forgets everything (they pile up
#: only when commands fail after writing, or write without an audit row).
_MAX_DIRTY = 4096
_CHUNK = 500  # ids per IN (...) list: well under SQLite's limit on parameters


def row_digest(values: Sequence[Any] | None) -> bytes:
    """SHA-256 of a row's covered values as compact JSON (``null`` for a missing row).

    orjson writes strings, integers, finite floats and nulls as JSON does, and an infinity as
    ``null`` too: a row where it wrote more ``null`` than the row has nulls (an infinity, or the
    word in a text), or a value it refuses (an integer beyond 64 bits, a BLOB, which lienthong
    never stores in these columns but an edit could), goes through the json module instead,
    which writes ``Infinity`` and a BLOB as ``{"blob": hex}``, which no column's text can be.
    Either way the bytes read back as the values, so no two rows hash alike.
    """
    if values is None:
        return _NO_ROW
    try:
        data = orjson.dumps(values)
    except TypeError:
        data = b""
    if not data or data.count(b"null") != values.count(None):
        data = json.dumps(
            list(values), ensure_ascii=False, separators=(",", ":"), default=_blob
        ).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).digest()


def _blob(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"cannot hash a {type(value).__name__}")


def _compose(dossier_hash: bytes, step_hashes: Mapping[int, bytes]) -> str:
    ids = sorted(step_hashes)
    hashes = [step_hashes[i] for i in ids]
    top = hashlib.sha256(b"".join((dossier_hash, *hashes))).hexdigest()
    return " ".join(
        (top, dossier_hash[:4].hex(), *(f"{i}:{step_hashes[i][:4].hex()}" for i in ids))
    )


def encode(dossier_row: Sequence[Any] | None, step_rows: Sequence[Sequence[Any]]) -> str:
    """The digest text of a dossier row (``None``: missing) and its step rows."""
    return _compose(row_digest(dossier_row), {s[0]: row_digest(s) for s in step_rows})


def digest(db: sqlite_utils.Database | sqlite3.Connection, code: str) -> str:
    """The digest text of the dossier's rows as the connection sees them now."""
    return _compose(*read_hashes(db if isinstance(db, sqlite3.Connection) else db.conn, code))


# -- digests from what was written ------------------------------------------------------------

#: A dossier row's hash and its steps' (by id).
_Hashes = tuple[bytes, dict[int, bytes]]


class Tracker:
    """Digests for one connection's audit rows, from what its writes changed.

    Reading a dossier's rows costs more than the rest of a handoff's audit row, so a tracker
    keeps, for the dossiers it digested last, the hash of each row its last digest covered, and
    the write functions of :mod:`lienthong.store` tell it which rows they changed. The next
    digest of a dossier reads only those rows again, provided the dossier's last audit row still
    carries the digest the tracker made (no other connection wrote one since, and the command
    that wrote it was not rolled back); otherwise it reads them all. What is read is what SQLite
    returns, so the digest is the one :func:`check` computes from the same rows.

    Rows changed with no write function telling (a plugin writing to lienthong's tables, an
    edit of the file) keep their vouched hash: the change stays visible to :func:`check`.
    Telling too much is harmless (the row is read again); the marks of a command rolled back
    are such. One tracker per connection (:func:`track`); the engine's connection has one.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        # code -> (digest text, dossier row hash, {step id: row hash}) as last vouched for.
        self._vouched: dict[str, tuple[str, bytes, dict[int, bytes]]] = {}
        self._dossiers: set[str] = set()  # dossier rows written since their last digest
        self._steps: set[int] = set()  # step rows written since their dossier's last digest
        self._whole: set[str] = set()  # dossiers whose steps were written as a set

    def steps_written(self, ids: Iterable[int]) -> None:
        self._steps.update(ids)
        if len(self._steps) > _MAX_DIRTY:
            self.forget()

    def forget(self) -> None:
        """Read every dossier's rows afresh from now on."""
        self._vouched.clear()
        self._dossiers.clear()
        self._steps.clear()
        self._whole.clear()

    def digests(self, conn: sqlite3.Connection, codes: Iterable[str]) -> dict[str, str]:
        """The digest text of each dossier's rows as they stand now (vouched for from now)."""
        return {code: self.vouch(code, *h) for code, h in self.hashes(conn, codes).items()}

    def hashes(self, conn: sqlite3.Connection, codes: Iterable[str]) -> dict[str, _Hashes]:
        """Each dossier's row hashes as the rows stand now (copies: the caller may change
        them, and then :meth:`vouch` for them)."""
        out: dict[str, _Hashes] = {}
        fresh: list[str] = []
        for code in codes:
            cached = self._vouched.get(code)
            if cached is not None and code not in self._whole:
                last = conn.execute(_LAST_SQL, [code]).fetchone()
                if last is not None and last[0] == cached[0]:
                    out[code] = (cached[1], dict(cached[2]))
                    continue
            fresh.append(code)
        if out and self._steps:
            self._reread_steps(conn, out)
        for code in self._dossiers.intersection(out):
            out[code] = (row_digest(conn.execute(_DOSSIER_SQL, [code]).fetchone()), out[code][1])
        for code in fresh:
            out[code] = read_hashes(conn, code)
        return out

    def _reread_steps(self, conn: sqlite3.Connection, known: Mapping[str, _Hashes]) -> None:
        """Hash again the written steps of the dossiers in ``known``; forget the marks of
        steps that are gone (their insert was rolled back)."""
        ids = sorted(self._steps)
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at : at + _CHUNK]
            seen = set()
            for r in conn.execute(_SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                seen.add(r[1])
                entry = known.get(r[0])
                if entry is not None:
                    entry[1][r[1]] = row_digest(r[1:])
            self._steps.difference_update(set(chunk) - seen)

    def vouch(self, code: str, dossier_hash: bytes, step_hashes: dict[int, bytes]) -> str:
        """The digest text of these hashes, kept as what the dossier's next audit row vouches
        for; the marks of the rows they cover are spent."""
        text = _compose(dossier_hash, step_hashes)
        self._dossiers.discard(code)
        self._whole.discard(code)
        self._steps.difference_update(step_hashes)
        self._vouched.pop(code, None)  # re-inserted last: the oldest is evicted first
        self._vouched[code] = (text, dossier_hash, step_hashes)
        if len(self._vouched) > self.size:
            del self._vouched[next(iter(self._vouched))]
        return text


def read_hashes(conn: sqlite3.Connection, code: str) -> _Hashes:
    """The dossier's row hashes, all read from the tables."""
    return (
        row_digest(conn.execute(_DOSSIER_SQL, [code]).fetchone()),
        {s[0]: row_digest(s) for s in conn.execute(_STEPS_SQL, [code])},
    )


class Batch:
    """The digests of a run of step updates, each applied in memory in turn: the tick's
    set-wise path writes many at once and then all their audit rows, each of which must vouch
    for its dossier as it stood after its own action, as the one-at-a-time path writes them.

    Build it before the updates are stored; :meth:`apply` each update (the values are the
    text, integers and nulls that will be stored, which SQLite returns as they are); store
    them; write the audit rows; then :meth:`done`.
    """

    def __init__(self, db: sqlite_utils.Database, step_ids: Sequence[int]) -> None:
        self._db = db
        conn = db.conn
        self._rows: dict[int, list[Any]] = {}
        self._dossier: dict[int, str] = {}
        ids = sorted(set(step_ids))
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at : at + _CHUNK]
            for r in conn.execute(_SOME_STEPS_SQL.format(",".join("?" * len(chunk))), chunk):
                self._dossier[r[1]] = r[0]
                self._rows[r[1]] = list(r[1:])
        codes = sorted(set(self._dossier.values()))
        t = _TRACKERS.get(db)
        self._states = t.hashes(conn, codes) if t else {c: read_hashes(conn, c) for c in codes}

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
        dh, hashes = self._states[self._dossier[step_id]]
        hashes[step_id] = row_digest(row)
        return _compose(dh, hashes)

    def done(self) -> None:
        """The updates and the audit rows are written: the tracker vouches for the result."""
        t = _TRACKERS.get(self._db)
        if t is not None:
            for code, hashes in self._states.items():
                t.vouch(code, *hashes)


_STEP_INDEX = {c: i for i, c in enumerate(STEP_COLUMNS)}
_TRACKERS: weakref.WeakKeyDictionary[sqlite_utils.Database, Tracker] = weakref.WeakKeyDictionary()


def track(db: sqlite_utils.Database) -> Tracker:
    """The tracker of the database's connection, made on first use."""
    t = _TRACKERS.get(db)
    if t is None:
        t = _TRACKERS[db] = Tracker()
    return t


def dossier_written(
    db: sqlite_utils.Database, code: str, columns: Iterable[str] | None = None
) -> None:
    """Tell the connection's tracker (if any) that the dossier's row changed (``columns``:
    only those; a change of none of the covered ones is not a change)."""
    t = _TRACKERS.get(db)
    if t is not None and (columns is None or not _DOSSIER_SET.isdisjoint(columns)):
        t._dossiers.add(code)


def steps_written(
    db: sqlite_utils.Database, ids: Iterable[int], columns: Iterable[str] | None = None
) -> None:
    """Tell the connection's tracker (if any) that these step rows changed (``columns``: as
    for :func:`dossier_written`)."""
    t = _TRACKERS.get(db)
    if t is not None and (columns is None or not _STEP_SET.isdisjoint(columns)):
        t.steps_written(ids)


def all_steps_written(db: sqlite_utils.Database, code: str) -> None:
    """Tell the connection's tracker (if any) that some of the dossier's steps changed."""
    t = _TRACKERS.get(db)
    if t is not None:
        t._whole.add(code)


def digests(db: sqlite_utils.Database, codes: Iterable[str]) -> dict[str, str]:
    """The digest text of each dossier's rows, through the connection's tracker if it has one."""
    t = _TRACKERS.get(db)
    if t is not None:
        return t.digests(db.conn, codes)
    return {code: digest(db, code) for code in codes}


# -- verification -----------------------------------------------------------------------------


@attrs.frozen
class StateProblem:
    """One dossier whose rows are not what its last audit row vouches for: the dossier, the
    step if one row is to blame (``None``: the dossier row, or the dossier as a whole), the
    audit row that vouches (``None``: none does), and what differs."""

    dossier: str
    step_id: int | None
    audit_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"dossier {self.dossier}" + (
            f", step {self.step_id}" if self.step_id is not None else ""
        )
        return f"{where}: {self.what}"


@attrs.frozen
class StateResult:
    """What :func:`check` found: how many dossiers it looked at (every code in ``dossiers``,
    ``steps`` or ``audit``), how many of them it compared with a digest, how many it could not
    (their last audit row predates migration 004), and the problems, by dossier code."""

    dossiers: int
    checked: int
    unchecked: int
    problems: tuple[StateProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check(db: sqlite_utils.Database) -> StateResult:
    """Compare every dossier's rows with the digest on its last audit row.

    Call after the chain verified (the digests are only as good as the chain), inside one read
    transaction. Looks at every dossier code found in ``dossiers``, ``steps`` or ``audit``.
    """
    conn = db.conn
    audit_cols = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    if "state_digest" not in audit_cols:
        # A database from before migration 004 (the CLI never migrates): nothing to check.
        n = conn.execute("SELECT count(*) FROM dossiers").fetchone()[0]
        return StateResult(n, 0, n)
    # The last row of each dossier, and the last one that carries a digest.
    last: dict[str, tuple[int, int | None]] = {
        code: (last_id, last_digest)
        for code, last_id, last_digest in conn.execute(
            "SELECT dossier, max(id), max(CASE WHEN state_digest IS NOT NULL THEN id END) "
            "FROM audit WHERE dossier IS NOT NULL GROUP BY dossier"
        )
    }
    codes = {r[0] for r in conn.execute("SELECT code FROM dossiers")}
    codes.update(r[0] for r in conn.execute("SELECT DISTINCT dossier FROM steps"))
    codes.update(last)
    problems: list[StateProblem] = []
    checked = unchecked = 0
    for code in sorted(codes, key=str):
        found = last.get(code)
        code = str(code)  # an edit may have left another type
        if found is None:
            problems.append(
                StateProblem(code, None, None, "no audit row vouches for it (rows inserted?)")
            )
            continue
        last_id, last_digest = found
        if last_digest is None:
            unchecked += 1
            continue
        if last_digest != last_id:
            problems.append(
                StateProblem(
                    code,
                    None,
                    last_id,
                    f"its last audit row {last_id} carries no state digest, though row "
                    f"{last_digest} does (written by a lienthong older than migration 004, "
                    "or forged)",
                )
            )
            continue
        checked += 1
        (vouched,) = conn.execute(
            "SELECT state_digest FROM audit WHERE id = ?", [last_id]
        ).fetchone()
        try:
            dossier_row = conn.execute(_DOSSIER_SQL, [code]).fetchone()
            step_rows = conn.execute(_STEPS_SQL, [code]).fetchall()
        except sqlite3.Error as e:  # e.g. text that is not UTF-8
            problems.append(StateProblem(code, None, last_id, f"its rows cannot be read: {e}"))
            continue
        now = encode(dossier_row, step_rows)
        if now != vouched:
            problems.extend(_locate(code, last_id, vouched, now, dossier_row is None))
    return StateResult(len(codes), checked, unchecked, tuple(problems))


def _locate(
    code: str, audit_id: int, vouched: object, now: str, dossier_missing: bool
) -> list[StateProblem]:
    """What differs between two digest texts, row by row."""
    was = _parts(vouched) if isinstance(vouched, str) else None
    is_ = _parts(now)
    since = f"since audit row {audit_id}"
    out: list[StateProblem] = []
    if was is None:
        return [StateProblem(code, None, audit_id, f"audit row {audit_id}'s digest is malformed")]
    assert is_ is not None
    if dossier_missing:
        out.append(StateProblem(code, None, audit_id, f"its dossier row was deleted {since}"))
    elif was[0] != is_[0]:
        out.append(StateProblem(code, None, audit_id, f"its dossier row was changed {since}"))
    for step_id, h in was[1].items():
        now_h = is_[1].get(step_id)
        if now_h is None:
            out.append(StateProblem(code, step_id, audit_id, f"the step row was deleted {since}"))
        elif now_h != h:
            out.append(StateProblem(code, step_id, audit_id, f"the step row was changed {since}"))
    for step_id in is_[1].keys() - was[1].keys():
        out.append(StateProblem(code, step_id, audit_id, f"the step row was inserted {since}"))
    if not out:  # the locators agree, the digests do not: a collision of 32 bits, or an edit
        out.append(StateProblem(code, None, audit_id, f"its rows were changed {since}"))
    out.sort(key=lambda p: (p.step_id is not None, p.step_id or 0))
    return out


def _parts(text: str) -> tuple[str, dict[int, str]] | None:
    """The dossier row's locator and each step's, from a digest text."""
    words = text.split(" ")
    if len(words) < 2:
        return None
    steps: dict[int, str] = {}
    for w in words[2:]:
        step_id, sep, h = w.partition(":")
        if not sep or not step_id.lstrip("-").isdigit():
            return None
        steps[int(step_id)] = h
    return words[1], steps
