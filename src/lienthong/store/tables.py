"""What the engine reads from and writes to the store: dossiers, steps, workflow states,
procedures and the daily sequence, each a named function (the SQL is here, nowhere else).

Reads of dossiers and steps go through :class:`Records`, which keeps the record it built for a
row while the row is unchanged: records are immutable, and rebuilding them (JSON, instants) costs
more than the query. Every write tells :mod:`~lienthong.store.tracker` what it wrote, so that
the next audit row's state digest need not read the rows again. Every function takes the
connection of the command's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlite_utils

from lienthong.errors import DossierNotFound, LienthongError
from lienthong.store import tracker
from lienthong.store.records import Dossier, Step
from lienthong.store.sqlite import insert, rows, update

_DOSSIER_MEMO_SIZE = 256
_STEP_MEMO_SIZE = 4096


class Records:
    """Dossier and step records read from their rows, each rebuilt only when its row changed.

    One per engine: the memo is keyed by row, so two engines on one file never see each other's
    stale records (a changed row is a different key).
    """

    def __init__(self) -> None:
        self._dossiers: dict[str, tuple[Any, Dossier]] = {}
        self._steps: dict[int, tuple[Any, Step]] = {}

    # -- dossiers ----------------------------------------------------------------------------
    def dossier(self, db: sqlite_utils.Database, code: str) -> Dossier:
        """The dossier with that code; :class:`DossierNotFound` if there is none."""
        cur = db.conn.execute("SELECT * FROM dossiers WHERE code = ?", [code])
        row = cur.fetchone()
        if row is None:
            raise DossierNotFound(f"no dossier {code!r}")
        memo = self._dossiers.get(code)
        if memo is not None and memo[0] == row:
            return memo[1]
        d = Dossier.from_row(dict(zip([c[0] for c in cur.description], row, strict=True)))
        if len(self._dossiers) >= _DOSSIER_MEMO_SIZE:
            self._dossiers.clear()
        self._dossiers[code] = (row, d)
        return d

    @staticmethod
    def dossiers(db: sqlite_utils.Database, status: int | None = None) -> list[Dossier]:
        """All dossiers, or those with one status, in code order."""
        where, args = ("status = ?", [status]) if status is not None else ("1", [])
        found = rows(db, f"SELECT * FROM dossiers WHERE {where} ORDER BY code", args)
        return [Dossier.from_row(r) for r in found]

    @staticmethod
    def received_between(
        db: sqlite_utils.Database, low: str, high: str, unit: str | None = None
    ) -> list[Dossier]:
        """The dossiers received (``received_at``) in ``[low, high)``, stored instants as text,
        by one receiving unit or all, in the order they were received (the tracking book,
        Mẫu 07). ``channel IN (1, 2, 3)`` lets SQLite range over the index
        ``dossiers_received`` (channel first) instead of reading every dossier."""
        sql = (
            "SELECT * FROM dossiers WHERE channel IN (1, 2, 3) AND received_at >= ? "
            "AND received_at < ?"
        )
        args: list[object] = [low, high]
        if unit is not None:
            sql += " AND receiving_unit = ?"
            args.append(unit)
        found = rows(db, sql + " ORDER BY received_at, code", args)
        return [Dossier.from_row(r) for r in found]

    # -- steps -------------------------------------------------------------------------------
    def _steps_where(
        self, db: sqlite_utils.Database, sql: str, args: Sequence[object]
    ) -> list[Step]:
        cur = db.conn.execute(sql, args)
        names: list[str] | None = None
        memo = self._steps
        out = []
        for row in cur.fetchall():
            seen = memo.get(row[0])
            if seen is not None and seen[0] == row:
                out.append(seen[1])
                continue
            if names is None:
                names = [c[0] for c in cur.description]
            step = Step.from_row(dict(zip(names, row, strict=True)))
            if len(memo) >= _STEP_MEMO_SIZE:
                memo.clear()
            memo[row[0]] = (row, step)
            out.append(step)
        return out

    def step(self, db: sqlite_utils.Database, step_id: int) -> Step | None:
        """The step with that id, or ``None``."""
        found = self._steps_where(db, "SELECT * FROM steps WHERE id = ?", [step_id])
        return found[0] if found else None

    def step_of(self, db: sqlite_utils.Database, dossier: str, step_id: int) -> Step | None:
        """The step with that id if it belongs to the dossier, else ``None``."""
        found = self._steps_where(
            db, "SELECT * FROM steps WHERE id = ? AND dossier = ?", [step_id, dossier]
        )
        return found[0] if found else None

    def steps_of(self, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        """Every step of a dossier, open and closed, in the order they opened."""
        return self._steps_where(db, "SELECT * FROM steps WHERE dossier = ? ORDER BY id", [dossier])

    def open_steps_of(self, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        """The dossier's open steps, in the order they opened."""
        return self._steps_where(
            db,
            "SELECT * FROM steps WHERE closed_at IS NULL AND dossier = ? ORDER BY id",
            [dossier],
        )

    def open_return_steps(self, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        """The dossier's open hand-over steps (trả kết quả)."""
        return self._steps_where(
            db,
            "SELECT * FROM steps WHERE dossier = ? AND closed_at IS NULL AND step_kind = 'return'",
            [dossier],
        )

    def unit_queue(self, db: sqlite_utils.Database, unit: str) -> list[Step]:
        """A unit's open steps, by due instant (those with none last)."""
        return self._steps_where(
            db,
            "SELECT * FROM steps WHERE closed_at IS NULL AND unit = ? "
            "ORDER BY due_at IS NULL, due_at, id",
            [unit],
        )

    def officer_queue(
        self, db: sqlite_utils.Database, officer: str, units: Sequence[str]
    ) -> list[Step]:
        """Open steps assigned to the officer, unclaimed in one of ``units`` (those they work
        for: their own, those they lead, those delegated to them), or escalated to them."""
        sql = _OFFICER_QUEUE.get(len(units))
        if sql is None:
            # Three indexed searches: SQLite would scan every open step for the OR of them.
            listed = ", ".join(f"?{i}" for i in range(2, len(units) + 2))
            sql = (
                "SELECT * FROM (SELECT * FROM steps WHERE closed_at IS NULL AND assignee = ?1 "
                "UNION SELECT * FROM steps WHERE closed_at IS NULL AND assignee IS NULL "
                f"AND unit IN ({listed}) UNION SELECT * FROM steps WHERE closed_at IS NULL "
                "AND escalated_to = ?1) ORDER BY due_at IS NULL, due_at, id"
            )
            _OFFICER_QUEUE[len(units)] = sql
        return self._steps_where(db, sql, [officer, *units])


#: The officer queue's statement by the number of units it lists.
_OFFICER_QUEUE: dict[int, str] = {}


# -- dossiers ------------------------------------------------------------------------------------
def insert_dossier(db: sqlite_utils.Database, values: Mapping[str, object]) -> None:
    """Store a new dossier's row."""
    insert(db, "dossiers", values)
    tracker.dossier_inserted(db, values)


def update_dossier(db: sqlite_utils.Database, code: str, values: Mapping[str, object]) -> None:
    """Change columns of a dossier's row."""
    update(db, "dossiers", "code", code, values)
    tracker.dossier_updated(db, code, values)


def next_sequence(db: sqlite_utils.Database, unit: str, day: str) -> int:
    """The next number of the unit's daily sequence (the NNNN of a dossier code), from 1."""
    n: int = db.conn.execute(
        "INSERT INTO daily_sequence (unit, day, last) VALUES (?, ?, 1) "
        "ON CONFLICT (unit, day) DO UPDATE SET last = last + 1 RETURNING last",
        [unit, day],
    ).fetchone()[0]
    return n


def supplement_requested_at(db: sqlite_utils.Database, code: str) -> str | None:
    """When the dossier's pending supplement was asked for (stored text)."""
    row = db.conn.execute(
        "SELECT supplement_requested_at FROM dossiers WHERE code = ?", [code]
    ).fetchone()
    return row[0] if row else None


# -- workflow states -----------------------------------------------------------------------------
def state_rev(db: sqlite_utils.Database, code: str) -> int | None:
    """The revision of the dossier's stored workflow state (bumped by every save)."""
    row = db.conn.execute("SELECT rev FROM dossier_states WHERE code = ?", [code]).fetchone()
    return row[0] if row else None


def load_state(db: sqlite_utils.Database, code: str) -> bytes:
    """The dossier's stored workflow state."""
    row = db.conn.execute("SELECT state FROM dossier_states WHERE code = ?", [code]).fetchone()
    if row is None:
        raise LienthongError(f"dossier {code} has no stored workflow state")
    blob: bytes = row[0]
    return blob


def save_state(db: sqlite_utils.Database, code: str, state: bytes) -> int:
    """Store the dossier's workflow state; return its new revision."""
    rev: int = db.conn.execute(
        "INSERT INTO dossier_states (code, rev, state) VALUES (?, 1, ?) ON CONFLICT (code) "
        "DO UPDATE SET rev = rev + 1, state = excluded.state RETURNING rev",
        [code, state],
    ).fetchone()[0]
    return rev


# -- steps ---------------------------------------------------------------------------------------
def insert_step(db: sqlite_utils.Database, values: Mapping[str, object]) -> int:
    """Store a new step's row; return its id."""
    step_id = insert(db, "steps", values)
    tracker.step_inserted(db, step_id, values)
    return step_id


def update_step(db: sqlite_utils.Database, step_id: int, values: Mapping[str, object]) -> None:
    """Change columns of a step's row."""
    update(db, "steps", "id", step_id, values)
    tracker.step_updated(db, step_id, values)


def open_task_ids(db: sqlite_utils.Database, code: str) -> dict[str, str]:
    """Task id -> step kind, of the dossier's open steps."""
    return dict(
        db.conn.execute(
            "SELECT task_id, step_kind FROM steps WHERE dossier = ? AND closed_at IS NULL",
            [code],
        ).fetchall()
    )


def cancel_open_steps(db: sqlite_utils.Database, code: str, at: str | None) -> None:
    """Close every open step of the dossier as cancelled."""
    db.conn.execute(
        "UPDATE steps SET status = 'cancelled', closed_at = ? WHERE dossier = ? "
        "AND closed_at IS NULL",
        [at, code],
    )
    tracker.all_steps_written(db, code)


def first_opened_at(db: sqlite_utils.Database, code: str, unit: str) -> str | None:
    """When the unit's first step of the dossier opened (stored text): when it received it."""
    row = db.conn.execute(
        "SELECT min(opened_at) FROM steps WHERE dossier = ? AND unit = ?", [code, unit]
    ).fetchone()
    return row[0] if row else None


# -- accountability ------------------------------------------------------------------------------
def record_faults(db: sqlite_utils.Database, code: str, faults: Mapping[str, int]) -> None:
    """Store the units that made a resolved dossier late, with their working minutes."""
    db.conn.executemany(
        "INSERT INTO dossier_faults (dossier, unit, minutes) VALUES (?, ?, ?)",
        [(code, unit, minutes) for unit, minutes in faults.items()],
    )
    tracker.faults_written(db, code)


def faults_of(db: sqlite_utils.Database, code: str) -> dict[str, int]:
    """Unit -> working minutes, of the units that made a dossier late (none if it was not)."""
    return dict(
        db.conn.execute(
            "SELECT unit, minutes FROM dossier_faults WHERE dossier = ? ORDER BY unit", [code]
        ).fetchall()
    )


def mark_overdue(db: sqlite_utils.Database, step_id: int, due_at: str | None) -> None:
    """Record that a step went overdue at ``due_at`` (the due instant it missed), unless it
    already had: the first time stands."""
    cur = db.conn.execute(
        "UPDATE steps SET first_overdue_at = ? WHERE id = ? AND first_overdue_at IS NULL",
        [due_at, step_id],
    )
    if cur.rowcount:
        tracker.step_updated(db, step_id, {"first_overdue_at": due_at})


# -- procedures ----------------------------------------------------------------------------------
def has_procedure(db: sqlite_utils.Database, version: str) -> bool:
    """Whether that version of a procedure is stored."""
    return (
        db.conn.execute("SELECT 1 FROM procedures WHERE version = ?", [version]).fetchone()
        is not None
    )


def insert_procedure(db: sqlite_utils.Database, values: Mapping[str, object]) -> None:
    """Store a procedure version (its BPMN file and what identifies it) as its code's current
    one."""
    insert(db, "procedures", {**values, "seq": _next_procedure_seq(db)})


def make_current(db: sqlite_utils.Database, version: str, now: str | None) -> bool:
    """Make a stored version its code's current one again (``loaded_at`` = ``now``, the next
    ``seq``), unless it is already; returns whether it changed anything."""
    row = db.conn.execute(
        "SELECT p.version = ? FROM procedures AS p WHERE p.code = "
        "(SELECT code FROM procedures WHERE version = ?) ORDER BY p.seq DESC LIMIT 1",
        [version, version],
    ).fetchone()
    if row is None or row[0]:
        return False
    db.conn.execute(
        "UPDATE procedures SET loaded_at = ?, seq = ? WHERE version = ?",
        [now, _next_procedure_seq(db), version],
    )
    return True


def _next_procedure_seq(db: sqlite_utils.Database) -> int:
    seq: int = db.conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM procedures").fetchone()[0]
    return seq


def current_versions(db: sqlite_utils.Database) -> dict[str, str]:
    """Procedure code -> its current version: the one made current last (``seq``)."""
    out: dict[str, str] = {}
    for code, version in db.conn.execute("SELECT code, version FROM procedures ORDER BY seq"):
        out[code] = version
    return out


def procedure_versions(db: sqlite_utils.Database, code: str) -> list[tuple[str, str, str]]:
    """A procedure code's stored versions, each (version, file name, when it last became
    current), the current one last."""
    return [
        (r[0], r[1], r[2])
        for r in db.conn.execute(
            "SELECT version, source, loaded_at FROM procedures WHERE code = ? ORDER BY seq",
            [code],
        )
    ]


def procedure_code(db: sqlite_utils.Database, version: str) -> str | None:
    """The procedure code of a stored version, or ``None`` if no such version is stored."""
    row = db.conn.execute("SELECT code FROM procedures WHERE version = ?", [version]).fetchone()
    return row[0] if row else None


def procedure_name(db: sqlite_utils.Database, version: str) -> str | None:
    """The procedure name (tên TTHC) of a stored version, or ``None`` if it is not stored."""
    row = db.conn.execute("SELECT name FROM procedures WHERE version = ?", [version]).fetchone()
    return row[0] if row else None


def procedure_source(db: sqlite_utils.Database, version: str) -> tuple[bytes, str] | None:
    """A stored version's BPMN bytes and the name of the file it came from."""
    row = db.conn.execute(
        "SELECT bpmn, source FROM procedures WHERE version = ?", [version]
    ).fetchone()
    return (row[0], row[1]) if row else None
