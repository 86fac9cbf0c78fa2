"""The tick's reads and writes: what has fallen due, found through indexed columns.

``steps.warn_at``, ``steps.next_escalation_at``, ``dossiers.apology_at`` and
``dossiers.supplement_close_at`` each have a partial index over the open rows, so finding the
due work never scans the open steps and never loads a workflow.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from lienthong.status import Status
from lienthong.store import tracker
from lienthong.store.digests import STEP_COLUMNS

#: The statuses in which the legal clock is paused (supplement, financial obligation).
PAUSED = (int(Status.SUPPLEMENT_REQUESTED), int(Status.FINANCIAL_OBLIGATION))
_PAUSED_SQL = ",".join(str(s) for s in PAUSED)
#: What tick looks for, each through its own index: (kind, query of (instant, key) due by ?).
#: A paused dossier has nothing due but its supplement expiry.
_DUE_QUERIES = (
    (
        "warning",
        "SELECT s.warn_at, s.id, s.dossier FROM steps s JOIN dossiers d ON d.code = s.dossier "
        f"WHERE s.closed_at IS NULL AND s.warn_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "escalation",
        "SELECT s.next_escalation_at, s.id, s.dossier FROM steps s "
        "JOIN dossiers d ON d.code = s.dossier WHERE s.closed_at IS NULL "
        f"AND s.next_escalation_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "apology_required",
        "SELECT apology_at, code, code FROM dossiers WHERE closed_at IS NULL "
        f"AND apology_fired = 0 AND apology_at <= ? AND status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "supplement_expired",
        "SELECT supplement_close_at, code, code FROM dossiers "
        "WHERE closed_at IS NULL AND supplement_close_at <= ?",
    ),
)
#: The columns a warning or an escalation reads: the step's, and two of its dossier's.
_TIMER_COLUMNS = (
    "id",
    "dossier",
    "unit",
    "name",
    "spec_id",
    "assignee",
    "share_minutes",
    "due_at",
    "warn_at",
    "escalation_level",
    "escalated_to",
    "next_escalation_at",
    "closed_at",
    "first_overdue_at",
)
#: The key of a timer row that holds the row as read, whose items ``COVERED_AT`` are the values of
#: every column the step's state digest covers (:data:`~lienthong.store.digests.STEP_COLUMNS`, in
#: order), so that the set-wise tick's :class:`~lienthong.store.batch.Batch` reads the step no
#: more. (The row itself, not a copy: the tick makes one batch of thousands of them, and every
#: container more is one more for the garbage collector to walk while the tick runs.)
COVERED = "_read"
#: The key of a timer row read ``with_digests`` that holds the state digest on its dossier's
#: last audit row (what the batch's digests start from when the engine keeps nothing of it).
LAST_DIGEST = "_last_digest"
_STEP_COLUMNS_SQL = "SELECT s.dossier, d.procedure_version, d.receiving_unit, " + ", ".join(
    f"s.{c}" for c in STEP_COLUMNS
)
_FROM = " FROM steps s JOIN dossiers d ON d.code = s.dossier"
_STEP_SELECT = _STEP_COLUMNS_SQL + _FROM
# audit_dossier is on (dossier, id): the last row of a dossier is one seek.
_WITH_DIGEST_SELECT = (
    _STEP_COLUMNS_SQL
    + ", (SELECT a.state_digest FROM audit a WHERE a.dossier = s.dossier ORDER BY a.id DESC "
    "LIMIT 1)" + _FROM
)
_COVERED_END = 3 + len(STEP_COLUMNS)
COVERED_AT = slice(3, _COVERED_END)
_AT = {c: 3 + STEP_COLUMNS.index(c) for c in _TIMER_COLUMNS if c != "dossier"}
_TIMER_KEYS = ("dossier", "d_version", "d_unit", *_AT)
_TIMER_AT = operator.itemgetter(0, 1, 2, *_AT.values())


def due_actions(db: sqlite_utils.Database, stamp: str) -> list[tuple[str, str, Any, str]]:
    """Everything due by ``stamp``: (instant, kind, step id or dossier code, dossier), in
    order."""
    out: list[tuple[str, str, Any, str]] = []
    for kind, sql in _DUE_QUERIES:
        out.extend((at, kind, key, code) for at, key, code in db.conn.execute(sql, [stamp]))
    out.sort(key=lambda a: (a[0], a[1], str(a[2])))
    return out


def row_locks(db: sqlite_utils.Database) -> bool:
    """Whether other processes write to the store at once, row by row (PostgreSQL), rather than
    one at a time under SQLite's write lock."""
    return bool(getattr(db, "row_locks", False))


def lock_dossiers(
    db: sqlite_utils.Database, codes: Iterable[str], *, wait: bool = False
) -> set[str]:
    """The dossiers of ``codes`` this transaction may act on, locked until it ends.

    On SQLite the transaction holds the write lock already: all of them. On a store that
    several processes write at once (PostgreSQL) their rows are locked now, in the order of
    their codes (so two batches never wait for each other in a cycle), before the batch writes
    anything: ``wait``: waiting for those another transaction holds; else skipping them (a
    command on the dossier, another tick), so that ticks running side by side share the due
    work."""
    wanted = sorted(set(codes))
    if not row_locks(db) or not wanted:
        return set(wanted)
    lock = "FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED"
    got: set[str] = set()
    for i in range(0, len(wanted), 1000):
        part = wanted[i : i + 1000]
        got.update(
            r[0]
            for r in db.conn.execute(
                f"SELECT code FROM dossiers WHERE code IN ({','.join('?' * len(part))}) "
                f"ORDER BY code {lock}",
                part,
            )
        )
    return got


def timer_rows(
    db: sqlite_utils.Database, step_ids: Sequence[int], *, with_digests: bool = False
) -> dict[int, dict[str, Any]]:
    """The rows of some steps (and their dossiers' version and desk), by step id;
    ``with_digests``: with the state digest of each one's dossier's last audit row
    (:data:`LAST_DIGEST`)."""
    marks = ",".join("?" * len(step_ids))
    out = {}
    select = _WITH_DIGEST_SELECT if with_digests else _STEP_SELECT
    for r in db.conn.execute(f"{select} WHERE s.id IN ({marks})", step_ids):
        row = dict(zip(_TIMER_KEYS, _TIMER_AT(r), strict=True))
        row[COVERED] = r
        if with_digests:
            row[LAST_DIGEST] = r[_COVERED_END]
        out[row["id"]] = row
    return out


def set_timers_many(db: sqlite_utils.Database, updates: Sequence[tuple[Any, ...]]) -> None:
    """Store (warn_at, escalation_level, escalated_to, next_escalation_at, first_overdue_at,
    id) for many steps; a ``first_overdue_at`` already stored stands (the first time)."""
    db.conn.executemany(
        "UPDATE steps SET warn_at = ?, escalation_level = ?, escalated_to = ?, "
        "next_escalation_at = ?, first_overdue_at = coalesce(first_overdue_at, ?) WHERE id = ?",
        updates,
    )
    tracker.steps_written(db, [u[-1] for u in updates])


def next_escalation(db: sqlite_utils.Database, step_id: int) -> str | None:
    """An open step's next escalation instant (stored text), or ``None``."""
    row = db.conn.execute(
        "SELECT next_escalation_at FROM steps WHERE id = ? AND closed_at IS NULL", [step_id]
    ).fetchone()
    return row[0] if row else None


def apology_reminder_pending(db: sqlite_utils.Database, code: str) -> bool:
    """Whether the dossier's apology reminder has not fired yet: read again inside the action's
    transaction, since another tick may have fired it after this one read what was due."""
    row = db.conn.execute("SELECT apology_fired FROM dossiers WHERE code = ?", [code]).fetchone()
    return row is not None and row[0] == 0
