"""``officers``: for each officer (cán bộ, công chức), the steps they finished in the period and
how (early, on time, late, late on arrival, overdue at any time, late working minutes), and the
escalations they received as a head (counted per step).

An officer who finished steps for two units (under a delegation, ủy quyền) has one row for
each; a head who received escalations and finished no step has a row with no steps.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports import stepcounts
from lienthong.reports.common import Names, Period, as_db, check_procedure, check_unit
from lienthong.reports.stepcounts import Counts


@attrs.frozen
class OfficerRow:
    """One officer's figures for one unit (see :mod:`lienthong.reports.stepcounts`)."""

    officer: str
    name: str
    unit: str
    unit_name: str
    steps: int
    early: int
    on_time: int
    late: int
    late_on_arrival: int
    overdue: int
    late_minutes: int
    escalations: int


def officers(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
) -> list[OfficerRow]:
    """Per officer and unit, in unit then officer order.

    :param org: names beside the ids (an :class:`~lienthong.org.Organisation` or
        :class:`~lienthong.reports.common.Names`); without it, ids alone.
    :param period: the steps closed (and escalations received) in it; default: everything.
    :param unit: only the steps of that unit (and the escalations its head received).
    :param procedure: only the dossiers of that procedure code.
    """
    db = as_db(db)
    names = Names.of(org, db)
    period = period or Period()
    check_unit(db, names, unit)
    check_procedure(db, procedure)
    counts = stepcounts.by_officer(db, period, unit=unit, procedure=procedure)
    received = stepcounts.escalations(db, period, procedure=procedure, by="officer")
    keys = set(counts) | {k for k in received if unit is None or k[1] == unit}
    rows = []
    for officer, code in sorted(keys, key=lambda k: (k[1], k[0])):
        c = counts.get((officer, code), Counts())
        rows.append(
            OfficerRow(
                officer=officer,
                name=names.officer(officer),
                unit=code,
                unit_name=names.unit(code),
                **attrs.asdict(c),
                escalations=received.get((officer, code), 0),
            )
        )
    return rows
