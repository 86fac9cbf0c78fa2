"""``apologies``: the late dossiers (quá hạn) and their apology (văn bản xin lỗi và đề nghị gia
hạn, Mẫu 04; Decree 118 Art 19(6)): the unit at fault, when the apology was required at the
latest, when it was issued, whether it came late, or is missing.

Listed: the dossiers resolved in the period after their first appointment, and those in
progress at the end of the period and already past it (as the ``period`` report counts them
overdue). The unit at fault comes from ``dossier_faults``: the units whose own steps made the
dossier late, the one with the most late minutes first.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports.common import (
    Names,
    Period,
    as_db,
    as_of,
    check_procedure,
    check_unit,
    procedure_names,
)
from lienthong.reports.period import overdue_in_progress
from lienthong.status import Status


@attrs.frozen
class Fault:
    """A unit whose own steps made the dossier late, by how many working minutes."""

    unit: str
    name: str
    minutes: int


@attrs.frozen
class ApologyRow:
    """One late dossier and its apology."""

    dossier: str
    procedure: str
    procedure_name: str
    status: int
    status_label: str
    resolved_at: str | None
    late_minutes: int | None
    unit_at_fault: str | None
    unit_at_fault_name: str
    units_at_fault: tuple[Fault, ...]
    required_at: str | None
    issued_at: str | None
    apology_unit: str | None
    apology_by: str | None
    apology_by_name: str
    late: bool
    missing: bool


def apologies(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
    now: datetime | None = None,
) -> list[ApologyRow]:
    """The late dossiers of the period, in code order; ``unit`` keeps those it is at fault
    for or issued the apology of; ``now`` as for :func:`~lienthong.reports.period_report`."""
    db = as_db(db)
    names = Names.of(org, db)
    period = period or Period()
    check_unit(db, names, unit)
    check_procedure(db, procedure)
    extra, args = (
        ("", {})
        if procedure is None
        else (" AND procedure_code = :procedure", {"procedure": procedure})
    )
    codes = [
        r[0]
        for r in db.conn.execute(
            "SELECT code FROM dossiers WHERE resolved_at IS NOT NULL AND late_minutes > 0 "
            f"AND resolved_at >= :low AND resolved_at < :high{extra}",
            {"low": period.low, "high": period.high, **args},
        )
    ]
    codes += overdue_in_progress(db, as_of(db, period, now), procedure=procedure)
    titles = procedure_names(db)
    out = []
    for code in sorted(set(codes)):
        d = dict(
            zip(
                (
                    "proc",
                    "status",
                    "resolved_at",
                    "late_minutes",
                    "required_at",
                    "issued_at",
                    "apology_unit",
                    "apology_by",
                    "apology_late",
                ),
                db.conn.execute(
                    "SELECT procedure_code, status, resolved_at, late_minutes, "
                    "apology_required_at, apology_issued_at, apology_unit, apology_by, "
                    "apology_late FROM dossiers WHERE code = ?",
                    [code],
                ).fetchone(),
                strict=True,
            )
        )
        faults = tuple(
            Fault(u, names.unit(u), m)
            for u, m in db.conn.execute(
                "SELECT unit, minutes FROM dossier_faults WHERE dossier = ? "
                "ORDER BY minutes DESC, unit",
                [code],
            )
        )
        if unit is not None and unit != d["apology_unit"] and all(f.unit != unit for f in faults):
            continue
        out.append(
            ApologyRow(
                dossier=code,
                procedure=d["proc"],
                procedure_name=titles.get(d["proc"], ""),
                status=d["status"],
                status_label=Status(d["status"]).label,
                resolved_at=d["resolved_at"],
                late_minutes=d["late_minutes"],
                unit_at_fault=faults[0].unit if faults else None,
                unit_at_fault_name=faults[0].name if faults else "",
                units_at_fault=faults,
                required_at=d["required_at"],
                issued_at=d["issued_at"],
                apology_unit=d["apology_unit"],
                apology_by=d["apology_by"],
                apology_by_name=names.officer(d["apology_by"]),
                late=bool(d["apology_late"]),
                missing=d["issued_at"] is None,
            )
        )
    return out
