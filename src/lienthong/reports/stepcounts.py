"""Counting finished steps the way the accountability reports do (shared by ``officers`` and
``units``), and the escalations each officer and unit received.

A finished step (status ``done``, closed in the period) is

- ``late`` (quá hạn) when it closed past its due instant (``late_minutes > 0``) and did not
  reach its unit already late (``arrived_late = 0``);
- ``late_on_arrival`` (nhận muộn) when it closed past its due instant but opened already at or
  past it: lateness the unit received, reported apart and never in ``late``;
- otherwise ``early`` (trước hạn) or ``on_time`` (đúng hạn) as its ``result_class`` says;
- also ``overdue`` (đã quá hạn) when it went overdue at any time (``first_overdue_at``), even if
  a supplement later restarted its clock.

How it is read (migration 007): the steps of each officer (or unit and lane role) and result
class are one stretch of ``steps_officer_finished`` (``steps_unit_finished``) ordered by
closing instant, so each count is a count of index entries between two instants; the late and
overdue steps, whose minutes are summed, are read from ``steps_late_finished``, which holds
them alone. The distinct officers, units and roles are found by skipping through the same
indexes, one seek each. With a ``procedure`` filter each step's dossier is looked up as well.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs
import sqlite_utils

from lienthong.reports.common import Period
from lienthong.status import ResultClass

#: The stored result classes of a finished step (``None``: it had no due instant).
CLASSES = (None, ResultClass.EARLY, ResultClass.ON_TIME, ResultClass.LATE)


@attrs.frozen
class Counts:
    """Finished steps and how they finished (see the module's docstring)."""

    steps: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    late_on_arrival: int = 0
    overdue: int = 0
    late_minutes: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            *(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )


@attrs.frozen
class _Late:
    """What ``steps_late_finished`` gives of a group of steps."""

    late: int = 0
    late_on_arrival: int = 0
    overdue: int = 0
    late_minutes: int = 0
    #: late (or late on arrival) although their result class says early / on time
    early_late: int = 0
    on_time_late: int = 0


def _counts(classes: dict[str | None, int], late: _Late) -> Counts:
    return Counts(
        steps=sum(classes.values()),
        early=classes.get(ResultClass.EARLY, 0) - late.early_late,
        on_time=classes.get(ResultClass.ON_TIME, 0) - late.on_time_late,
        late=late.late,
        late_on_arrival=late.late_on_arrival,
        overdue=late.overdue,
        late_minutes=late.late_minutes,
    )


def _loose_scan(name: str, cols: tuple[str, ...], table: str, where: str) -> str:
    """A recursive CTE ``name(cols)`` of the distinct values of one or two columns among the
    rows of ``table`` where ``where`` holds, each found by one seek of an index ordered by them
    (a loose index scan) instead of a scan of every entry."""
    c = ", ".join(cols)
    # ``> ''``: a seek to the first value, not a scan that stops there.
    first = f"SELECT rowid FROM {table} WHERE {where} AND {cols[0]} > '' ORDER BY {c} LIMIT 1"
    if len(cols) == 1:
        after = f"SELECT rowid FROM {table} WHERE {where} AND {c} > p.{c} ORDER BY {c} LIMIT 1"
    else:
        a, b = cols
        after = (
            f"coalesce((SELECT rowid FROM {table} WHERE {where} AND {a} = p.{a} AND {b} > p.{b} "
            f"ORDER BY {b} LIMIT 1), (SELECT rowid FROM {table} WHERE {where} AND {a} > p.{a} "
            f"ORDER BY {a}, {b} LIMIT 1))"
        )
    pick = ", ".join(f"n.{x}" for x in cols)
    return (
        f"{name}({c}) AS (SELECT {pick} FROM {table} n WHERE n.rowid = ({first}) "
        f"UNION ALL SELECT {pick} FROM {name} p JOIN {table} n ON n.rowid = ({after}))"
    )


def _class_counts(where: str, join: str) -> str:
    """Four scalar subqueries: the finished steps of each result class closed in the period."""
    out = []
    for rc in CLASSES:
        test = "s.result_class IS NULL" if rc is None else f"s.result_class = '{rc}'"
        out.append(
            f"(SELECT count(*) FROM steps s{join} WHERE {where} AND {test} "
            "AND s.closed_at >= :low AND s.closed_at < :high)"
        )
    return ", ".join(out)


#: What is summed of the late and overdue steps, in :class:`_Late` order.
_LATE = (
    "s.late_minutes > 0 AND s.arrived_late = 0",
    "s.late_minutes > 0 AND s.arrived_late = 1",
    "s.first_overdue_at IS NOT NULL",
    "CASE WHEN s.late_minutes > 0 AND s.arrived_late = 0 THEN s.late_minutes ELSE 0 END",
    "s.late_minutes > 0 AND s.result_class = 'early'",
    "s.late_minutes > 0 AND s.result_class = 'on_time'",
)


def _late_sums(where: str, join: str) -> str:
    """One scalar subquery: the sums of :data:`_LATE` over the late and overdue steps closed in
    the period where ``where`` holds, packed in one text (a group's late steps are then read
    once, in index order, with no sort)."""
    packed = " || ',' || ".join(f"total({x})" for x in _LATE)
    return (
        f"(SELECT {packed} FROM steps s{join} WHERE s.status = 'done' "
        f"AND (s.late_minutes > 0 OR s.first_overdue_at IS NOT NULL) AND {where} "
        "AND s.closed_at >= :low AND s.closed_at < :high)"
    )


def _unpack(text: str | None) -> _Late:
    return _Late(*(int(float(v)) for v in (text or "0,0,0,0,0,0").split(",")))


class _Reader:
    """The statements of one report run: a period and an optional procedure filter."""

    def __init__(self, db: sqlite_utils.Database, period: Period, procedure: str | None):
        self.conn = db.conn
        self.args: dict[str, object] = {"low": period.low, "high": period.high}
        self.join = ""
        if procedure is not None:
            self.join = " JOIN dossiers d ON d.code = s.dossier AND d.procedure_code = :procedure"
            self.args["procedure"] = procedure


def by_unit_role(
    db: sqlite_utils.Database, period: Period, *, unit: str | None, procedure: str | None
) -> dict[str, dict[str, Counts]]:
    """Unit -> lane role -> counts of its steps (user and service) finished in the period."""
    rd = _Reader(db, period, procedure)
    where = "status = 'done'" + (" AND unit = :unit" if unit is not None else "")
    group = "s.unit = g.unit AND s.role = g.role"
    rows = rd.conn.execute(
        f"WITH RECURSIVE {_loose_scan('g', ('unit', 'role'), 'steps', where)} "
        "SELECT g.unit, g.role, "
        + _class_counts(f"s.status = 'done' AND {group}", rd.join)
        + f", {_late_sums(group, rd.join)} FROM g",
        {**rd.args, "unit": unit},
    ).fetchall()
    out: dict[str, dict[str, Counts]] = defaultdict(dict)
    for code, role, *n, late in rows:
        if any(n):
            out[code][role] = _counts(dict(zip(CLASSES, n, strict=True)), _unpack(late))
    return dict(out)


def by_officer(
    db: sqlite_utils.Database, period: Period, *, unit: str | None, procedure: str | None
) -> dict[tuple[str, str], Counts]:
    """(officer, unit) -> counts of the user steps the officer finished for that unit."""
    rd = _Reader(db, period, procedure)
    where = "status = 'done' AND kind = 'user'"
    if unit is not None:  # its officers, through the unit's index
        pairs = (
            f"{_loose_scan('o', ('closed_by',), 'steps', where + ' AND unit = :unit')}, "
            "g(closed_by, unit) AS (SELECT closed_by, :unit FROM o)"
        )
    else:
        pairs = _loose_scan("g", ("closed_by", "unit"), "steps", where)
    group = "s.kind = 'user' AND s.closed_by = g.closed_by AND s.unit = g.unit"
    rows = rd.conn.execute(
        f"WITH RECURSIVE {pairs} SELECT g.closed_by, g.unit, "
        + _class_counts(f"s.status = 'done' AND {group}", rd.join)
        + f", {_late_sums(group, rd.join)} FROM g",
        {**rd.args, "unit": unit},
    ).fetchall()
    out = {}
    for officer, code, *n, late in rows:
        if any(n):
            out[(officer, code)] = _counts(dict(zip(CLASSES, n, strict=True)), _unpack(late))
    return out


def escalations(
    db: sqlite_utils.Database, period: Period, *, procedure: str | None, by: str
) -> dict[Any, int]:
    """Escalations received in the period, counted per step (a step escalated twice to the
    same head is one): ``by="officer"``: by (officer, unit), the unit whose head the officer
    is; ``by="unit"``: by that unit. One group at a time, through ``audit_escalated_officer``
    or ``audit_escalated``."""
    join, args = "", {"low": period.low, "high": period.high}
    if procedure is not None:
        join = " JOIN dossiers d ON d.code = a.dossier AND d.procedure_code = :procedure"
        args["procedure"] = procedure
    if by == "officer":
        cols: tuple[str, ...] = ("to_officer", "to_unit")
        where = "event = 'escalated' AND to_officer IS NOT NULL"
    else:
        cols, where = ("to_unit",), "event = 'escalated'"
    match = " AND ".join(f"a.{c} = g.{c}" for c in cols)
    rows = db.conn.execute(
        f"WITH RECURSIVE {_loose_scan('g', cols, 'audit', where)} "
        f"SELECT {', '.join(f'g.{c}' for c in cols)}, (SELECT count(DISTINCT a.step_id) "
        f"FROM audit a{join} WHERE a.{where.replace(' AND ', ' AND a.')} AND {match} "
        "AND a.at >= :low AND a.at < :high) FROM g",
        args,
    ).fetchall()
    if by == "officer":
        return {(officer, unit): n for officer, unit, n in rows if n}
    return {unit: n for unit, n in rows if n}
