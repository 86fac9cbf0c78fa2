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

    def __add__(self, other: _Late) -> _Late:
        return _Late(
            *(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )


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


_LATE = (
    "total(s.late_minutes > 0 AND s.arrived_late = 0), "
    "total(s.late_minutes > 0 AND s.arrived_late = 1), "
    "total(s.first_overdue_at IS NOT NULL), "
    "total(CASE WHEN s.late_minutes > 0 AND s.arrived_late = 0 THEN s.late_minutes ELSE 0 END), "
    "total(s.late_minutes > 0 AND s.result_class = 'early'), "
    "total(s.late_minutes > 0 AND s.result_class = 'on_time')"
)


class _Reader:
    """The statements of one report run: a period and an optional procedure filter."""

    def __init__(self, db: sqlite_utils.Database, period: Period, procedure: str | None):
        self.conn = db.conn
        self.args: dict[str, object] = {"low": period.low, "high": period.high}
        self.join = ""
        if procedure is not None:
            self.join = " JOIN dossiers d ON d.code = s.dossier AND d.procedure_code = :procedure"
            self.args["procedure"] = procedure

    def late(self, unit: str | None) -> dict[tuple[str, str, str | None, str], _Late]:
        """(unit, role, closed by, kind) -> late and overdue steps closed in the period."""
        units = (
            "u(unit) AS (SELECT :unit)"
            if unit is not None
            else _loose_scan("u", ("unit",), "steps", "status = 'done'")
        )
        rows = self.conn.execute(
            f"WITH RECURSIVE {units} SELECT s.unit, s.role, s.closed_by, s.kind, {_LATE} "
            f"FROM u JOIN steps s ON s.unit = u.unit{self.join} WHERE s.status = 'done' "
            "AND (s.late_minutes > 0 OR s.first_overdue_at IS NOT NULL) "
            "AND s.closed_at >= :low AND s.closed_at < :high "
            "GROUP BY s.unit, s.role, s.closed_by, s.kind",
            {**self.args, "unit": unit},
        ).fetchall()
        return {(r[0], r[1], r[2], r[3]): _Late(*(int(v) for v in r[4:])) for r in rows}


def by_unit_role(
    db: sqlite_utils.Database, period: Period, *, unit: str | None, procedure: str | None
) -> dict[str, dict[str, Counts]]:
    """Unit -> lane role -> counts of its steps (user and service) finished in the period."""
    rd = _Reader(db, period, procedure)
    where = "status = 'done'" + (" AND unit = :unit" if unit is not None else "")
    late: dict[tuple[str, str], _Late] = defaultdict(_Late)
    for (code, role, _who, _kind), v in rd.late(unit).items():
        late[(code, role)] += v
    rows = rd.conn.execute(
        f"WITH RECURSIVE {_loose_scan('g', ('unit', 'role'), 'steps', where)} "
        "SELECT g.unit, g.role, "
        + _class_counts("s.status = 'done' AND s.unit = g.unit AND s.role = g.role", rd.join)
        + " FROM g",
        {**rd.args, "unit": unit},
    ).fetchall()
    out: dict[str, dict[str, Counts]] = defaultdict(dict)
    for code, role, *n in rows:
        classes = dict(zip(CLASSES, n, strict=True))
        if any(n):
            out[code][role] = _counts(classes, late[(code, role)])
    return dict(out)


def by_officer(
    db: sqlite_utils.Database, period: Period, *, unit: str | None, procedure: str | None
) -> dict[tuple[str, str], Counts]:
    """(officer, unit) -> counts of the user steps the officer finished for that unit."""
    rd = _Reader(db, period, procedure)
    late: dict[tuple[str, str], _Late] = defaultdict(_Late)
    for (code, _role, who, kind), v in rd.late(unit).items():
        if kind == "user" and who is not None:
            late[(who, code)] += v
    where = "status = 'done' AND kind = 'user'"
    if unit is not None:  # its officers, through the unit's index
        pairs = (
            f"{_loose_scan('o', ('closed_by',), 'steps', where + ' AND unit = :unit')}, "
            "g(closed_by, unit) AS (SELECT closed_by, :unit FROM o)"
        )
    else:
        pairs = _loose_scan("g", ("closed_by", "unit"), "steps", where)
    rows = rd.conn.execute(
        f"WITH RECURSIVE {pairs} SELECT g.closed_by, g.unit, "
        + _class_counts(
            "s.status = 'done' AND s.kind = 'user' AND s.closed_by = g.closed_by "
            "AND s.unit = g.unit",
            rd.join,
        )
        + " FROM g",
        {**rd.args, "unit": unit},
    ).fetchall()
    out = {}
    for officer, code, *n in rows:
        if any(n):
            out[(officer, code)] = _counts(
                dict(zip(CLASSES, n, strict=True)), late[(officer, code)]
            )
    return out


def escalations(
    db: sqlite_utils.Database, period: Period, *, procedure: str | None, by: str
) -> dict[Any, int]:
    """Escalations received in the period, counted per step (a step escalated twice to the
    same head is one): ``by="officer"``: by (officer, unit), the unit whose head the officer
    is; ``by="unit"``: by that unit."""
    join, args = "", {"low": period.low, "high": period.high}
    if procedure is not None:
        join = " JOIN dossiers d ON d.code = a.dossier AND d.procedure_code = :procedure"
        args["procedure"] = procedure
    units = _loose_scan("u", ("to_unit",), "audit", "event = 'escalated' AND to_unit IS NOT NULL")
    body = (
        f"FROM u JOIN audit a ON a.to_unit = u.to_unit{join} WHERE a.event = 'escalated' "
        "AND a.at >= :low AND a.at < :high"
    )
    if by == "officer":
        return {
            (officer, unit): n
            for unit, officer, n in db.conn.execute(
                f"WITH RECURSIVE {units} SELECT a.to_unit, a.to_officer, "
                f"count(DISTINCT a.step_id) {body} AND a.to_officer IS NOT NULL "
                "GROUP BY a.to_unit, a.to_officer",
                args,
            )
        }
    return dict(
        db.conn.execute(
            f"WITH RECURSIVE {units} SELECT a.to_unit, count(DISTINCT a.step_id) {body} "
            "GROUP BY a.to_unit",
            args,
        ).fetchall()
    )
