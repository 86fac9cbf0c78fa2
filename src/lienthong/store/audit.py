"""The audit log: append-only, hash-chained.

Each row's ``hash`` is the SHA-256 of the previous row's hash and the row's own fields in a
canonical JSON form, so changing any byte of any row breaks the chain from that row on. Triggers in
the store refuse UPDATE and DELETE; :func:`verify` finds what they cannot prevent (an edit of the
file itself).

A row's ``format`` says which fields its hash covers. Format 1 (every row written before
migration 010): :data:`FIELDS`. Format 2 (every row since): the format itself, :data:`FIELDS` and
``state_digest``, the digest of the dossier's rows in ``dossiers`` and ``steps`` as they stood
when the row was written (:mod:`~lienthong.store.digests`), which ``verify(deep=True)`` compares
with the tables.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import attrs
import orjson
import sqlite_utils

from lienthong.errors import StoreError
from lienthong.store import digests, tracker

GENESIS = "0" * 64
FIELDS = (
    "dossier",
    "event",
    "at",
    "from_unit",
    "from_officer",
    "to_unit",
    "to_officer",
    "step_id",
    "share_minutes",
    "due_at",
    "result_class",
    "note",
    "data",
)


#: The format new rows are written in; :data:`FORMATS`, those :func:`verify` knows.
FORMAT = 2
FORMATS = (1, 2)

_FIELD_SET = frozenset(FIELDS)


def canonical(prev_hash: str, row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash is taken of: compact UTF-8 JSON of the previous hash and the
    fields in :data:`FIELDS` order (format 1, and a row with no ``format``), or of the previous
    hash, the format, those fields and ``state_digest`` (format 2), as ``json.dumps(...,
    ensure_ascii=False, separators=(",", ":"))`` writes it. orjson writes the same bytes for
    strings, integers and nulls (a property test holds it to that), faster; anything else goes
    to the json module. The format's number where format 1 has the dossier (text or null)
    keeps the two apart."""
    fmt = row.get("format") or 1
    if fmt == 1:
        values = [prev_hash, *(row.get(f) for f in FIELDS)]
    else:
        values = [prev_hash, fmt, *(row.get(f) for f in FIELDS), row.get("state_digest")]
    if all(v is None or type(v) in _ORJSON_SAME for v in values):
        try:
            return orjson.dumps(values)
        except TypeError:  # an integer beyond 64 bits
            pass
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_ORJSON_SAME = (str, int)


def _digest(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(prev_hash, row)).hexdigest()


_PLAIN_INSERT = (
    f"INSERT INTO audit ({', '.join(FIELDS)}, state_digest, format, prev_hash, hash) "
    f"VALUES ({', '.join('?' * (len(FIELDS) + 4))})"
)


def _row(fields: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {f: fields.get(f) for f in FIELDS}
    if isinstance(row["data"], dict | list):
        row["data"] = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
    return row


def append(db: sqlite_utils.Database, **fields: Any) -> dict[str, Any]:
    """Append one audit row, chained to the last one. Call inside the command's transaction.

    The previous hash is read and the new one computed in Python, in the caller's transaction:
    SQLite's snapshot isolation makes a concurrent writer's commit in between fail this
    transaction (SQLITE_BUSY_SNAPSHOT) rather than fork the chain. Outside a transaction the
    two statements are wrapped in one.
    """
    unknown = fields.keys() - _FIELD_SET
    if unknown:
        raise TypeError(f"unknown audit fields: {sorted(unknown)}")
    row = _row(fields)
    if not db.conn.in_transaction:
        with db.atomic():
            tracker.began(db)
            return append(db, **row)
    code = row["dossier"]
    # After the command's writes to the dossier: the digest vouches for them.
    row["state_digest"] = None if code is None else tracker.digests(db, (code,))[code]
    row["format"] = FORMAT
    last = db.conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = last[0] if last else GENESIS
    digest = _digest(prev, row)
    rowid = db.conn.execute(_PLAIN_INSERT, [*row.values(), prev, digest]).lastrowid
    row["id"], row["prev_hash"], row["hash"] = rowid, prev, digest
    return row


def append_many(db: sqlite_utils.Database, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows in order, chained, with one INSERT statement run for all of them (inside the
    caller's transaction). For callers that need neither the rows' ids nor the audit_event hook.
    A row's state digest is its ``state_digest`` if it has one (see
    :class:`~lienthong.store.batch.Batch`), else that of its dossier's rows as they stand
    when this is called."""
    built = [_row(fields) for fields in rows]
    given = [fields.get("state_digest") for fields in rows]
    codes = {
        r["dossier"]
        for r, g in zip(built, given, strict=True)
        if r["dossier"] is not None and g is None
    }
    states = tracker.digests(db, sorted(codes)) if codes else {}
    # Each row's bytes but the previous hash, before the chain's head is read: on a store
    # several processes write at once, reading the head takes the chain's lock (held to the
    # commit), and only the hashing in order has to happen under it. A hash is hexadecimal
    # text, which JSON writes as it is: ``["<prev>",`` then the rest of the array.
    tails = []
    for row, state in zip(built, given, strict=True):
        row["state_digest"] = state if state is not None else states.get(row["dossier"])
        row["format"] = FORMAT
        tails.append(canonical("", row)[4:])  # after '["",'
    out = []
    last = db.conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = last[0] if last else GENESIS
    sha256 = hashlib.sha256
    for row, tail in zip(built, tails, strict=True):
        digest = sha256(b'["' + prev.encode() + b'",' + tail).hexdigest()
        out.append([*row.values(), prev, digest])
        prev = digest
    db.conn.executemany(_PLAIN_INSERT, out)


@attrs.frozen
class VerifyResult:
    """What :func:`verify` found: ``ok``, how many rows it checked, and the first broken row;
    with ``deep=True``, also what :func:`lienthong.store.digests.check` found in the tables
    (``state``; ``ok`` is false if it found a problem, ``reason`` names the first)."""

    ok: bool
    rows: int
    broken_id: int | None = None
    reason: str = ""
    state: digests.StateResult | None = None


def verify(db: sqlite_utils.Database, *, deep: bool = False) -> VerifyResult:
    """Walk the whole chain; name the first row whose hash or link does not hold. ``deep``: then
    (if the chain holds) compare each dossier's rows with the digest on its last audit row."""
    with snapshot(db):
        chain = _verify_chain(db)
        if not deep or not chain.ok:
            return chain
        return with_state(chain, digests.check(db))


def with_state(result: VerifyResult, state: digests.StateResult) -> VerifyResult:
    """``result`` with what the deep check found."""
    if state.ok:
        return attrs.evolve(result, state=state)
    first = state.problems[0]
    more = len(state.problems) - 1
    reason = str(first) + (f" (and {more} more)" if more else "")
    return attrs.evolve(result, ok=False, reason=reason, state=state)


def _verify_chain(db: sqlite_utils.Database) -> VerifyResult:
    prev = GENESIS
    n = 0
    present = {r[1] for r in db.execute("PRAGMA table_info(audit)")}
    # A database from before migration 010 (the CLI opens it read-only, unmigrated).
    extra = [c if c in present else f"NULL AS {c}" for c in ("format", "state_digest")]
    names = ("id", *FIELDS, "format", "state_digest", "prev_hash", "hash")
    cols = ", ".join(("id", *FIELDS, *extra, "prev_hash", "hash"))
    for rec in db.execute(f"SELECT {cols} FROM audit ORDER BY id"):
        row = dict(zip(names, rec, strict=True))
        n += 1
        if row["prev_hash"] != prev:
            return VerifyResult(False, n, row["id"], "its prev_hash does not match the row before")
        if row["format"] is not None and row["format"] not in FORMATS:
            return VerifyResult(False, n, row["id"], f"its format {row['format']!r} is unknown")
        if _digest(prev, row) != row["hash"]:
            return VerifyResult(False, n, row["id"], "its content does not match its hash")
        prev = row["hash"]
    return VerifyResult(True, n)


@contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """One read transaction, so that what a check, a form or a portal record reads in several
    statements is one state of the store even while an Engine appends (WAL readers see a fixed
    snapshot; a PostgreSQL reader's transactions are REPEATABLE READ). Inside the caller's own
    transaction, that one is the snapshot."""
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        # Nothing was written: ROLLBACK only ends the snapshot (and cannot fail for want of
        # a transaction if SQLite already ended it after an error).
        with suppress(sqlite3.OperationalError, StoreError):
            conn.execute("ROLLBACK")


def rows_for(db: sqlite_utils.Database, dossier: str) -> list[dict[str, Any]]:
    """The dossier's audit rows, in order."""
    return list(db.query("SELECT * FROM audit WHERE dossier = ? ORDER BY id", [dossier]))


def count_events(db: sqlite_utils.Database, dossier: str, event: str, from_unit: str) -> int:
    """How many audit rows of one event a unit wrote for a dossier."""
    n: int = db.conn.execute(
        "SELECT count(*) FROM audit WHERE dossier = ? AND event = ? AND from_unit = ?",
        [dossier, event, from_unit],
    ).fetchone()[0]
    return n
