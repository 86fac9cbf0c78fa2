"""The audit log: append-only, hash-chained.

Each row's ``hash`` is the SHA-256 of the previous row's hash and the row's own fields in a
canonical JSON form, so changing any byte of any row breaks the chain from that row on. Triggers in
the store refuse UPDATE and DELETE; :func:`verify` finds what they cannot prevent (an edit of the
file itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson
import sqlite_utils

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


_FIELD_SET = frozenset(FIELDS)


def canonical(prev_hash: str, row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash is taken of: compact UTF-8 JSON of the previous hash and the
    fields in :data:`FIELDS` order, as ``json.dumps(..., ensure_ascii=False,
    separators=(",", ":"))`` writes it. orjson writes the same bytes for strings, integers and
    nulls (a property test holds it to that), faster; anything else goes to the json module."""
    values = [prev_hash, *(row.get(f) for f in FIELDS)]
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
    f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) "
    f"VALUES ({', '.join('?' * (len(FIELDS) + 2))})"
)


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
    row: dict[str, Any] = {f: fields.get(f) for f in FIELDS}
    if isinstance(row["data"], dict | list):
        row["data"] = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
    if not db.conn.in_transaction:
        with db.atomic():
            return append(db, **row)
    last = db.conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = last[0] if last else GENESIS
    digest = _digest(prev, row)
    rowid = db.conn.execute(_PLAIN_INSERT, [*row.values(), prev, digest]).lastrowid
    row["id"], row["prev_hash"], row["hash"] = rowid, prev, digest
    return row


def append_many(db: sqlite_utils.Database, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append rows in order, chained, with one INSERT statement run for all of them (inside the
    caller's transaction). For callers that need neither the rows' ids nor the audit_event hook."""
    out = []
    last = db.conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = last[0] if last else GENESIS
    for fields in rows:
        row: dict[str, Any] = {f: fields.get(f) for f in FIELDS}
        if isinstance(row["data"], dict | list):
            row["data"] = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
        digest = _digest(prev, row)
        out.append([*row.values(), prev, digest])
        prev = digest
    db.conn.executemany(_PLAIN_INSERT, out)


@attrs.frozen
class VerifyResult:
    """What :func:`verify` found: ``ok``, how many rows it checked, and the first broken row."""

    ok: bool
    rows: int
    broken_id: int | None = None
    reason: str = ""


def verify(db: sqlite_utils.Database) -> VerifyResult:
    """Walk the whole chain; name the first row whose hash or link does not hold."""
    prev = GENESIS
    n = 0
    cols = ", ".join(("id", *FIELDS, "prev_hash", "hash"))
    for rec in db.execute(f"SELECT {cols} FROM audit ORDER BY id"):
        row = dict(zip(("id", *FIELDS, "prev_hash", "hash"), rec, strict=True))
        n += 1
        if row["prev_hash"] != prev:
            return VerifyResult(False, n, row["id"], "its prev_hash does not match the row before")
        if _digest(prev, row) != row["hash"]:
            return VerifyResult(False, n, row["id"], "its content does not match its hash")
        prev = row["hash"]
    return VerifyResult(True, n)


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
