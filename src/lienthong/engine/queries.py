"""What the Engine answers without changing anything: procedures, dossiers, steps, queues, the
audit rows and the control sheet.

A base class of :class:`~lienthong.engine.facade.Engine`, so that the facade keeps one method per
command and these read-only methods have a room of their own.

Each read-only method that runs several statements (a dossier and its steps; the control
sheet's dossier, steps and audit rows) reads one snapshot of the store (:meth:`Store.reading`),
so that it never mixes the states before and after a command another process commits between
them. One that runs a single statement (``dossier``, ``dossiers``, ``open_steps``) opens none:
SQLite runs a statement outside a transaction in a read transaction of its own, already one
snapshot, and the explicit ``BEGIN`` and ``COMMIT`` would cost about as much as the query
(``docs/benchmarks.md``, "One statement, no snapshot").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlite_utils

from lienthong.bpmn.procedures import Procedure
from lienthong.engine import arguments as arg
from lienthong.engine import permissions
from lienthong.engine.accountability import UnitAtFault, apology_units
from lienthong.engine.context import Context
from lienthong.engine.guard import guarded as _guarded
from lienthong.engine.procedures import Procedures
from lienthong.errors import InvalidData, StepNotFound
from lienthong.org import Organisation
from lienthong.reports.diagram import dossier_diagram
from lienthong.reports.sheet import ControlSheet, control_sheet
from lienthong.status import Status
from lienthong.store import audit, tables
from lienthong.store.records import Dossier, Step

_P = ParamSpec("_P")
_R = TypeVar("_R")
_Q = TypeVar("_Q", bound="Queries")


def _snapshot(fn: Callable[Concatenate[_Q, _P], _R]) -> Callable[Concatenate[_Q, _P], _R]:
    """Run the method in one read transaction of the store (nothing more inside a command)."""

    @functools.wraps(fn)
    def run(self: _Q, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._ctx.store.reading():
            return fn(self, *args, **kwargs)

    return run


class Queries:
    """The read-only half of the Engine's public API (see :class:`Engine`)."""

    # Set by Engine.__init__.
    db: sqlite_utils.Database
    org: Organisation
    _ctx: Context
    _procedures: Procedures

    @_guarded
    def procedure(self, code_or_version: str) -> Procedure:
        """The current version of a procedure by code, or an exact version by its hash."""
        return self._procedures.get(arg.text(code_or_version, "code_or_version"))

    @_guarded
    def procedures(self) -> list[Procedure]:
        """The current version of every loaded procedure."""
        return self._procedures.all_current()

    # -- reception and steps -------------------------------------------------------------------
    # -- queries -------------------------------------------------------------------------------
    @_guarded
    def dossier(self, code: str) -> Dossier:
        """The dossier with that code."""
        return self._ctx.records.dossier(self.db, arg.text(code, "code"))

    @_guarded
    def dossiers(self, *, status: Status | None = None) -> list[Dossier]:
        """All dossiers, or those with one status, in code order."""
        if status is None:
            return self._ctx.records.dossiers(self.db)
        try:
            wanted = Status(status)
        except (ValueError, TypeError):
            raise InvalidData(f"status: {arg.shown(status)} is not a dossier status") from None
        return self._ctx.records.dossiers(self.db, int(wanted))

    @_guarded
    @_snapshot
    def steps(self, dossier: str) -> list[Step]:
        """Every step of a dossier, open and closed, in the order they opened."""
        self._ctx.records.dossier(self.db, arg.text(dossier, "dossier"))
        return self._ctx.records.steps_of(self.db, dossier)

    @_guarded
    @_snapshot
    def step(self, dossier: str, step_id: int) -> Step:
        """One step of a dossier."""
        step_id = self._step_id(dossier, step_id)
        return self._ctx.step_of(self.db, dossier, step_id)

    @_guarded
    def open_steps(
        self, *, unit: str | None = None, officer: str | None = None, dossier: str | None = None
    ) -> list[Step]:
        """Open steps of a unit, of a dossier, or those an officer may work: assigned to them,
        unclaimed in the queue of a unit they work for (their own, one they head or deputise,
        one a delegation in force at the Engine's clock lends them), or escalated to them.
        Ordered by due instant."""
        if sum(x is not None for x in (unit, officer, dossier)) != 1:
            raise InvalidData("open_steps: give exactly one of unit=, officer= or dossier=")
        records = self._ctx.records
        if dossier is not None:
            arg.text(dossier, "dossier")
            found = records.open_steps_of(self.db, dossier)
            if not found:
                # An unknown code is an error, a finished one is not. A second statement, but
                # no snapshot is needed: it only asks whether the dossier exists, and a dossier
                # once received is never deleted.
                records.dossier(self.db, dossier)
            return found
        if unit is not None:
            self.org.unit(arg.text(unit, "unit"))
            return records.unit_queue(self.db, unit)
        o = self.org.officer(arg.text(officer, "officer"))
        units = permissions.work_units(self.org, o.id, self._ctx.clock.now())
        return records.officer_queue(self.db, o.id, units)

    @_guarded
    @_snapshot
    def units_at_fault(self, dossier: str) -> list[UnitAtFault]:
        """Who must sign the dossier's apology now (Mẫu 04), each unit with why: the units
        :meth:`~lienthong.engine.facade.Engine.apologise` accepts the head or a deputy of
        (``docs/sla.md``, "Who is at fault")."""
        db = self.db
        d = self._ctx.records.dossier(db, arg.text(dossier, "dossier"))
        proc = self._ctx.procedure(d.procedure_version)
        steps = self._ctx.records.steps_of(db, dossier)
        return apology_units(proc, d, steps, self._ctx.clock.now())

    @_guarded
    @_snapshot
    def faults(self, dossier: str) -> dict[str, int]:
        """The units that made a resolved dossier late, with the working minutes each did
        (``dossier_faults``; empty for a dossier in time or not resolved yet)."""
        self._ctx.records.dossier(self.db, arg.text(dossier, "dossier"))
        return tables.faults_of(self.db, dossier)

    @_guarded
    @_snapshot
    def audit_rows(self, dossier: str) -> list[dict[str, Any]]:
        """The dossier's audit rows, in order."""
        self._ctx.records.dossier(self.db, arg.text(dossier, "dossier"))
        return audit.rows_for(self.db, dossier)

    @_guarded
    @_snapshot
    def verify_audit(self, *, deep: bool = False) -> audit.VerifyResult:
        """Check the whole audit chain; the result names the first broken row.

        ``deep``: then compare every dossier's rows in ``dossiers`` and ``steps`` with the state
        digest on its last audit row; ``result.state`` lists each dossier (and step) whose rows
        were changed, deleted or inserted since, and ``ok`` is false if there is one.
        """
        if not isinstance(deep, bool):
            raise InvalidData(f"deep: expected True or False, got {arg.shown(deep)}")
        return audit.verify(self.db, deep=deep)

    @_guarded
    @_snapshot
    def control_sheet(self, dossier: str) -> ControlSheet:
        """The process control sheet (phiếu kiểm soát, Mẫu 06) of a dossier."""
        return control_sheet(self.db, self.org, self.procedure, arg.text(dossier, "dossier"))

    @_guarded
    @_snapshot
    def dossier_diagram(self, dossier: str, *, at: datetime | None = None) -> str:
        """The SVG picture of a dossier's progress on its procedure version's diagram, at
        ``at`` (default: the clock's now): each task coloured by its steps' state, with a
        legend (:mod:`lienthong.reports.diagram`)."""
        when = self._ctx.clock.now() if at is None else arg.instant(at, "at")
        return dossier_diagram(
            self.db,
            self.procedure,
            arg.text(dossier, "dossier"),
            at=when,
            calendar=self._ctx.calendar,
        )

    def _step_id(self, dossier: object, step_id: object) -> int:
        """The dossier code checked, and the step id as an int; a step id out of SQLite's range is
        no step of the dossier (after the dossier itself was found, as for any other id)."""
        arg.text(dossier, "dossier")
        if type(step_id) is int and -arg.INT64_MAX <= step_id <= arg.INT64_MAX:
            return step_id
        if isinstance(step_id, bool) or not isinstance(step_id, int):
            raise InvalidData(
                f"step_id: expected an integer, got {type(step_id).__name__} {arg.shown(step_id)}"
            )
        if -arg.INT64_MAX <= step_id <= arg.INT64_MAX:
            return int(step_id)  # an int subclass: the store binds plain ints
        self._ctx.records.dossier(self.db, dossier)  # type: ignore[arg-type]
        raise StepNotFound(f"dossier {dossier} has no step {arg.shown(step_id)} (not a 64-bit id)")
