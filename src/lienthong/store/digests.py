"""State digests: what an audit row vouches for in the ``dossiers`` and ``steps`` tables.

Every audit row of a dossier written since migration 010 carries, in its ``state_digest``
column (part of the row's hash), a digest of the dossier's row and all its step rows as they
stood when the row was written. A command writes its audit rows after what they record, so the
dossier's last audit row vouches for the rows as the last command left them; :func:`check`
compares that with what the tables hold now (``lienthong audit verify --deep``). The engine
makes the digests from what its writes changed (:mod:`~lienthong.store.tracker`).

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

A dossier row's hash also covers its rows in ``dossier_faults`` (:data:`FAULTS_SQL`): which
units made a late dossier late, and by how much, is what the accountability reports charge them
with, written once by the command that resolves the dossier, before its audit row.

The digest is text: ``d:`` and the dossier row's hash, then ``ID:`` and each step row's hash, by
step id, space-separated; a row's hash is the first 128 bits of the SHA-256 of the compact JSON
array of its covered columns in order, as SQLite returns them (:func:`row_digest`), in base64
(22 characters, no padding). So a mismatch names the row that differs, the step that is missing
or the one that was added; an edit that keeps the digest must find another row with the same
128 bits (a second preimage). Holding every row's hash, the last audit row of a dossier is also
where the engine starts the next digest from when it keeps nothing of the dossier.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
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
    "legal_appointment",
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

#: What a dossier row's hash covers besides its columns: the units that made it late
#: (``dossier_faults``, written once when it is resolved late), as a JSON array of
#: ``[unit, minutes]`` in the table's key order, NULL when there are none (so the hash of a
#: dossier with no faults is that of its columns and a null).
FAULTS_SQL = (
    "(SELECT nullif(json_group_array(json_array(unit, minutes)), '[]') FROM dossier_faults "
    "WHERE dossier = dossiers.code)"
)
#: The names of the values a dossier row's hash covers, in order (``faults``: :data:`FAULTS_SQL`).
DOSSIER_VALUES = (*DOSSIER_COLUMNS, "faults")
#: The SELECT list of those values.
DOSSIER_SELECT = ", ".join((*DOSSIER_COLUMNS, FAULTS_SQL))
DOSSIER_SQL = f"SELECT {DOSSIER_SELECT} FROM dossiers WHERE code = ?"
# steps_dossier is an index on (dossier): its entries are in rowid order, so no sort is needed.
STEPS_SQL = f"SELECT {', '.join(STEP_COLUMNS)} FROM steps WHERE dossier = ? ORDER BY id"
_NO_ROW = hashlib.sha256(b"null").digest()[:16]


def row_digest(values: Sequence[Any] | None) -> bytes:
    """SHA-256 of a row's covered values as compact JSON (``null`` for a missing row).

    orjson writes strings, integers, finite floats and nulls as JSON does; a row it refuses (an
    integer beyond 64 bits, a BLOB, which lienthong never stores in these columns but an edit
    could) or that holds an infinity (which orjson would write as ``null``, like a null) goes
    through the json module instead, which writes ``Infinity`` and a BLOB as ``{"blob": hex}``,
    which no column's text can be. Either way the bytes read back as the values, so no two rows
    hash alike.
    """
    if values is None:
        return _NO_ROW
    try:
        data = orjson.dumps(values)
    except TypeError:
        return _fallback(values)
    # Each infinity adds a null: where the counts agree there is none (the word in a text
    # also adds one, hence the closer look).
    if data.count(b"null") != values.count(None) and any(
        type(v) is float and not math.isfinite(v) for v in values
    ):
        return _fallback(values)
    return hashlib.sha256(data).digest()[:16]


def plain_digest(values: Sequence[Any]) -> bytes:
    """:func:`row_digest` of a row known to hold only text, 64-bit integers and nulls."""
    return hashlib.sha256(orjson.dumps(values)).digest()[:16]


def _fallback(values: Sequence[Any]) -> bytes:
    data = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"), default=_blob)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).digest()[:16]


def _blob(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"cannot hash a {type(value).__name__}")


def b64(h: bytes) -> str:
    """A row's hash as the digest text writes it (22 base64 characters)."""
    return binascii.b2a_base64(h, newline=False)[:22].decode("ascii")


def compose(dossier_hash: bytes, step_hashes: Mapping[int, bytes]) -> str:
    """The digest text of a dossier row's hash and its steps' (by id)."""
    return " ".join(
        ("d:" + b64(dossier_hash), *(f"{i}:{b64(step_hashes[i])}" for i in sorted(step_hashes)))
    )


def parse(text: object) -> tuple[bytes, dict[int, bytes]] | None:
    """The row hashes of a digest text (``None``: it is not one)."""
    parts = _parts(text)
    if parts is None:
        return None
    try:
        return _unb64(parts[0]), {i: _unb64(h) for i, h in parts[1].items()}
    except (binascii.Error, ValueError):
        return None


#: A digest text: the dossier row's part, then each step's (ids of decimal digits).
_DIGEST_TEXT = re.compile(r"d:[A-Za-z0-9+/]{22}(?: [0-9]+:[A-Za-z0-9+/]{22})*")


def split(text: object) -> tuple[str, dict[int, str]] | None:
    """A digest text's parts as it writes them: ``d:`` and the dossier row's hash, and each
    step's ``ID:`` and hash, by step id (``None``: it is not a digest text). What the engine
    makes the next digest of a dossier from, without decoding a hash."""
    if not isinstance(text, str) or _DIGEST_TEXT.fullmatch(text) is None:
        return None
    words = text.split(" ")
    return words[0], {int(w[:-23]): w for w in words[1:]}


def read_parts(conn: sqlite3.Connection, code: str) -> tuple[str, dict[int, str]]:
    """:func:`split` of the dossier's digest as read from the tables."""
    dh, hashes = read_hashes(conn, code)
    return "d:" + b64(dh), {i: f"{i}:{b64(h)}" for i, h in hashes.items()}


def join_parts(dpart: str, parts: Mapping[int, str]) -> str:
    """The digest text of parts as :func:`split` gives them."""
    return " ".join([dpart, *[parts[i] for i in sorted(parts)]])


def _unb64(text: str) -> bytes:
    if len(text) != 22:
        raise ValueError(text)
    return binascii.a2b_base64(text + "==")


def encode(dossier_row: Sequence[Any] | None, step_rows: Sequence[Sequence[Any]]) -> str:
    """The digest text of a dossier row (``None``: missing) and its step rows."""
    return compose(row_digest(dossier_row), {s[0]: row_digest(s) for s in step_rows})


def digest(db: sqlite_utils.Database | sqlite3.Connection, code: str) -> str:
    """The digest text of the dossier's rows as the connection sees them now."""
    return compose(*read_hashes(db.conn if isinstance(db, sqlite_utils.Database) else db, code))


def read_hashes(conn: sqlite3.Connection, code: str) -> tuple[bytes, dict[int, bytes]]:
    """The dossier's row hashes, all read from the tables."""
    return (
        row_digest(conn.execute(DOSSIER_SQL, [code]).fetchone()),
        {s[0]: row_digest(s) for s in conn.execute(STEPS_SQL, [code])},
    )


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
    (their last audit row predates migration 010), and the problems, by dossier code."""

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
    transaction. Looks at every dossier code found in ``dossiers``, ``steps``,
    ``dossier_faults`` or ``audit``.
    """
    conn = db.conn
    audit_cols = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    if "state_digest" not in audit_cols:
        # A database from before migration 010 (the CLI never migrates): nothing to check.
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
    codes.update(r[0] for r in conn.execute("SELECT DISTINCT dossier FROM dossier_faults"))
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
                    f"{last_digest} does (written by a lienthong older than migration 010, "
                    "or forged)",
                )
            )
            continue
        checked += 1
        (vouched,) = conn.execute(
            "SELECT state_digest FROM audit WHERE id = ?", [last_id]
        ).fetchone()
        try:
            dossier_row = conn.execute(DOSSIER_SQL, [code]).fetchone()
            step_rows = conn.execute(STEPS_SQL, [code]).fetchall()
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
    was = _parts(vouched)
    is_ = _parts(now)
    since = f"since audit row {audit_id}"
    out: list[StateProblem] = []
    if was is None:
        return [StateProblem(code, None, audit_id, f"audit row {audit_id}'s digest is malformed")]
    assert is_ is not None
    if dossier_missing:
        out.append(StateProblem(code, None, audit_id, f"its dossier row was deleted {since}"))
    elif was[0] != is_[0]:
        what = f"its dossier row (with its dossier_faults) was changed {since}"
        out.append(StateProblem(code, None, audit_id, what))
    for step_id, h in was[1].items():
        now_h = is_[1].get(step_id)
        if now_h is None:
            out.append(StateProblem(code, step_id, audit_id, f"the step row was deleted {since}"))
        elif now_h != h:
            out.append(StateProblem(code, step_id, audit_id, f"the step row was changed {since}"))
    for step_id in is_[1].keys() - was[1].keys():
        out.append(StateProblem(code, step_id, audit_id, f"the step row was inserted {since}"))
    if not out:  # the same rows, written otherwise: an edit of the digest's form
        out.append(StateProblem(code, None, audit_id, f"its rows were changed {since}"))
    out.sort(key=lambda p: (p.step_id is not None, p.step_id or 0))
    return out


def _parts(text: object) -> tuple[str, dict[int, str]] | None:
    """The dossier row's hash and each step's, as written in a digest text."""
    if not isinstance(text, str) or not text.startswith("d:"):
        return None
    words = text.split(" ")
    steps: dict[int, str] = {}
    for w in words[1:]:
        step_id, sep, h = w.partition(":")
        if not sep or not step_id.lstrip("-").isdigit():
            return None
        steps[int(step_id)] = h
    return words[0][2:], steps
