"""The tick's reads and writes: what has fallen due, found through indexed columns.

``steps.warn_at``, ``steps.next_escalation_at``, ``dossiers.apology_at`` and
``dossiers.supplement_close_at`` each have a partial index over the open rows, so finding the
due work never scans the open steps and never loads a workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlite_utils

from lienthong.status import Status
from lienthong.store import tracker
from lienthong.store.sqlite import rows

#: The statuses in which the legal clock is paused (supplement, financial obligation).
PAUSED = (int(Status.SUPPLEMENT_REQUESTED), int(Status.FINANCIAL_OBLIGATION))
_PAUSED_SQL = ",".join(str(s) for s in PAUSED)
#: What tick looks for, each through its own index: (kind, query of (instant, key) due by ?).
#: A paused dossier has nothing due but its supplement expiry.
_DUE_QUERIES = (
    (
        "warning",
        "SELECT s.warn_at, s.id FROM steps s JOIN dossiers d ON d.code = s.dossier "
        f"WHERE s.closed_at IS NULL AND s.warn_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "escalation",
        "SELECT s.next_escalation_at, s.id FROM steps s "
        "JOIN dossiers d ON d.code = s.dossier WHERE s.closed_at IS NULL "
        f"AND s.next_escalation_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "apology_required",
        "SELECT apology_at, code FROM dossiers WHERE closed_at IS NULL "
        f"AND apology_fired = 0 AND apology_at <= ? AND status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "supplement_expired",
        "SELECT supplement_close_at, code FROM dossiers "
        "WHERE closed_at IS NULL AND supplement_close_at <= ?",
    ),
)
#: The columns a warning or an escalation reads: the step, and two of its dossier's.
_STEP_SELECT = (
    "SELECT s.id, s.dossier, s.unit, s.name, s.spec_id, s.assignee, s.share_minutes, s.due_at, "
    "s.warn_at, s.escalation_level, s.escalated_to, s.next_escalation_at, s.closed_at, "
    "s.first_overdue_at, "
    "d.procedure_version AS d_version, d.receiving_unit AS d_unit "
    "FROM steps s JOIN dossiers d ON d.code = s.dossier"
)


def due_actions(db: sqlite_utils.Database, stamp: str) -> list[tuple[str, str, Any]]:
    """Everything due by ``stamp``: (instant, kind, step id or dossier code), in order."""
    out: list[tuple[str, str, Any]] = []
    for kind, sql in _DUE_QUERIES:
        out.extend((at, kind, key) for at, key in db.conn.execute(sql, [stamp]))
    out.sort(key=lambda a: (a[0], a[1], str(a[2])))
    return out


def timer_rows(db: sqlite_utils.Database, step_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The timer columns of some steps (and their dossiers' version and desk), by step id."""
    marks = ",".join("?" * len(step_ids))
    return {r["id"]: r for r in rows(db, f"{_STEP_SELECT} WHERE s.id IN ({marks})", step_ids)}


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
