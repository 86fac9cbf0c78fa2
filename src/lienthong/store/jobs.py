"""Service steps as jobs: which are due to run, who holds one (a lease), and what an attempt
left behind (a failure, a retry instant).

An open service step is due when ``next_attempt_at`` has passed; whoever runs it first takes a
lease (``leased_by``, ``lease_until``) in a short transaction, with a conditional UPDATE that
succeeds for one engine only, so that two workers never run one step at the same time, and a
lease whose holder died runs out. Instants are the store's ISO 8601 text in Asia/Ho_Chi_Minh,
which sorts as time does. Every function takes the connection of the caller's transaction.

Only :func:`record_failure` changes columns an audit row's state digest covers
(:mod:`~lienthong.store.digests`): the schedule and the lease change between attempts, with no
audit row.
"""

from __future__ import annotations

import sqlite_utils

from lienthong.store import tracker
from lienthong.store.due import PAUSED

_PAUSED_SQL = ",".join(str(s) for s in PAUSED)


def due(db: sqlite_utils.Database, now: str, limit: int) -> list[int]:
    """Open service steps due by ``now`` that nobody holds, the longest waiting first. A step of
    a paused dossier (supplement, financial obligation) waits: no step completes then."""
    # The partial index steps_service_due holds only open service steps with an instant.
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT s.id FROM steps s JOIN dossiers d ON d.code = s.dossier "
            "WHERE s.closed_at IS NULL AND s.next_attempt_at <= ?1 "
            "AND (s.lease_until IS NULL OR s.lease_until < ?1) "
            f"AND d.status NOT IN ({_PAUSED_SQL}) "
            "ORDER BY s.next_attempt_at, s.id LIMIT ?2",
            [now, limit],
        )
    ]


def next_due(db: sqlite_utils.Database) -> str | None:
    """The earliest instant :func:`due` will return a step (stored text): a held step's
    instant is the end of its lease."""
    row = db.conn.execute(
        "SELECT min(max(s.next_attempt_at, coalesce(s.lease_until, ''))) FROM steps s "
        "JOIN dossiers d ON d.code = s.dossier WHERE s.closed_at IS NULL "
        f"AND s.next_attempt_at IS NOT NULL AND d.status NOT IN ({_PAUSED_SQL})"
    ).fetchone()
    return row[0] if row else None


def claim(
    db: sqlite_utils.Database,
    step_id: int,
    worker: str,
    now: str,
    lease_until: str,
    *,
    due_only: bool = True,
) -> bool:
    """Take the lease of an open step if nobody else holds it (a lease that ran out is nobody's;
    the holder may take its own again). ``due_only``: only if it is due by ``now``. Whether the
    lease is the caller's now."""
    cur = db.conn.execute(
        "UPDATE steps SET lease_until = ?, leased_by = ? WHERE id = ? AND closed_at IS NULL "
        "AND (lease_until IS NULL OR lease_until < ? OR leased_by = ?)"
        + (" AND next_attempt_at <= ?" if due_only else ""),
        [lease_until, worker, step_id, now, worker, *([now] if due_only else [])],
    )
    return cur.rowcount == 1


def reschedule(
    db: sqlite_utils.Database,
    step_id: int,
    next_attempt_at: str | None,
    *,
    worker: str | None = None,
    lease_until: str | None = None,
) -> None:
    """Set when the step runs next, and who holds it meanwhile (nobody by default)."""
    db.conn.execute(
        "UPDATE steps SET next_attempt_at = ?, leased_by = ?, lease_until = ? WHERE id = ?",
        [next_attempt_at, worker, lease_until, step_id],
    )


def schedule_open_services(
    db: sqlite_utils.Database,
    dossier: str,
    now: str,
    *,
    worker: str | None = None,
    lease_until: str | None = None,
) -> list[int]:
    """Make the dossier's open service steps due at ``now`` (their data was corrected); those
    nobody else holds go to ``worker`` if given. Returns the ids now held by ``worker``."""
    db.conn.execute(
        "UPDATE steps SET next_attempt_at = ? WHERE dossier = ? AND kind = 'service' "
        "AND closed_at IS NULL",
        [now, dossier],
    )
    if worker is None:
        return []
    return [
        r[0]
        for r in db.conn.execute(
            "UPDATE steps SET leased_by = ?, lease_until = ? WHERE dossier = ? "
            "AND kind = 'service' AND closed_at IS NULL "
            "AND (lease_until IS NULL OR lease_until < ? OR leased_by = ?) RETURNING id",
            [worker, lease_until, dossier, now, worker],
        ).fetchall()
    ]


def record_failure(
    db: sqlite_utils.Database, step_id: int, error: str, next_attempt_at: str | None
) -> None:
    """A service step's attempt failed: count it, keep the error, say when it runs again
    (``None``: not by itself), and let go of its lease."""
    db.conn.execute(
        "UPDATE steps SET attempts = attempts + 1, last_error = ?, status = 'failed', "
        "next_attempt_at = ?, leased_by = NULL, lease_until = NULL WHERE id = ?",
        [error, next_attempt_at, step_id],
    )
    tracker.steps_written(db, (step_id,))
