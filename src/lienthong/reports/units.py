"""``units``: for each unit (đơn vị), the steps it finished in the period and how, the
escalations its head received (counted per step), the late dossiers it caused (from
``dossier_faults``: the units whose own steps made a dossier late) and how many of its steps
were coordinating ones (liên thông: done for a dossier another agency leads), which count as
its own like any other.

A unit's steps are its officers' steps and its service steps (its systems' calls to other
agencies), so its ``steps`` may exceed the sum of its officers'.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports import stepcounts
from lienthong.reports.common import Names, Period, as_db, check_procedure, check_unit
from lienthong.reports.lanes import RoleLanes, role_lanes
from lienthong.reports.stepcounts import Counts


@attrs.frozen
class UnitRow:
    """One unit's figures (see :mod:`lienthong.reports.stepcounts`)."""

    unit: str
    name: str
    steps: int
    early: int
    on_time: int
    late: int
    late_on_arrival: int
    overdue: int
    late_minutes: int
    escalations: int
    late_dossiers: int
    late_dossier_minutes: int
    coordinating: int


def units(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
) -> list[UnitRow]:
    """Per unit, in code order (arguments as for :func:`lienthong.reports.officers`)."""
    db = as_db(db)
    names = Names.of(org, db)
    period = period or Period()
    check_unit(db, names, unit)
    check_procedure(db, procedure)
    by_role = stepcounts.by_unit_role(db, period, unit=unit, procedure=procedure)
    received = stepcounts.escalations(db, period, procedure=procedure, by="unit")
    faults = _faults(db, period, procedure)
    lanes = role_lanes(db)
    codes = set(by_role) | set(received) | set(faults)
    if unit is not None:
        codes &= {unit}
    rows = []
    for code in sorted(codes):
        roles = by_role.get(code, {})
        total = sum(roles.values(), Counts())
        n_dossiers, minutes = faults.get(code, (0, 0))
        rows.append(
            UnitRow(
                unit=code,
                name=names.unit(code),
                **attrs.asdict(total),
                escalations=received.get(code, 0),
                late_dossiers=n_dossiers,
                late_dossier_minutes=minutes,
                coordinating=sum(
                    _coordinating(db, period, procedure, code, role, c.steps, lanes.get(role))
                    for role, c in roles.items()
                ),
            )
        )
    return rows


def _coordinating(
    db: sqlite_utils.Database,
    period: Period,
    procedure: str | None,
    unit: str,
    role: str,
    steps: int,
    lanes: RoleLanes | None,
) -> int:
    """How many of the unit's ``steps`` of one role were coordinating: all or none when the
    role's lane is the same in every stored version (the usual case), else counted by version."""
    if lanes is None or not lanes.coordinating:
        return 0
    if not lanes.lead:
        return steps
    versions = sorted(lanes.coordinating)
    marks = ", ".join("?" * len(versions))
    extra, args = ("", []) if procedure is None else (" AND d.procedure_code = ?", [procedure])
    n: int = db.conn.execute(
        "SELECT count(*) FROM steps s JOIN dossiers d ON d.code = s.dossier "
        "WHERE s.status = 'done' AND s.unit = ? AND s.closed_at >= ? AND s.closed_at < ? "
        f"AND s.role = ? AND d.procedure_version IN ({marks}){extra}",
        [unit, period.low, period.high, role, *versions, *args],
    ).fetchone()[0]
    return n


def _faults(
    db: sqlite_utils.Database, period: Period, procedure: str | None
) -> dict[str, tuple[int, int]]:
    """Unit -> (late dossiers resolved in the period it is at fault for, their minutes)."""
    extra, args = ("", []) if procedure is None else (" AND d.procedure_code = ?", [procedure])
    return {
        unit: (n, int(minutes or 0))
        for unit, n, minutes in db.conn.execute(
            "SELECT f.unit, count(*), total(f.minutes) FROM dossiers d "
            "JOIN dossier_faults f ON f.dossier = d.code "
            "WHERE (d.resolved_at IS NOT NULL OR d.closed_at IS NOT NULL) "
            "AND coalesce(d.resolved_at, d.closed_at) >= ? "
            "AND coalesce(d.resolved_at, d.closed_at) < ? "
            f"AND d.resolved_at IS NOT NULL AND d.late_minutes > 0{extra} GROUP BY f.unit",
            [period.low, period.high, *args],
        )
    }
