"""How a dossier moves on: a step closes in the workflow and the store, the steps it made ready
open with their due instants, the handoffs are recorded, and the dossier's status follows.

Every command that moves a dossier (an officer's step, a service step, a refusal, a withdrawal,
a supplement's expiry) goes through :class:`Progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlite_utils
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from lienthong.bpmn.procedures import Procedure, StepSpec
from lienthong.engine import accountability
from lienthong.engine.context import APPLICANT, Context, iso, plain_json
from lienthong.engine.workflows import UNREAD, advance
from lienthong.errors import PluginError, StepClosed
from lienthong.legaltime import rules
from lienthong.status import Channel, Status
from lienthong.store import tables
from lienthong.store.records import Dossier, Step, evolve


class Progress:
    """Opens and closes steps, records handoffs, and moves the dossier's status on."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: A new service step's scheduling columns (when it is due, who holds it), set by
        #: :class:`~lienthong.engine.services.ServiceSteps`.
        self.service_fields: Callable[[datetime], Mapping[str, Any]] | None = None

    def set(self, db: sqlite_utils.Database, d: Dossier, **values: Any) -> Dossier:
        """Store changes to a dossier's row and return the record with them applied."""
        stored = {
            k: iso(v) if isinstance(v, datetime) else int(v) if isinstance(v, Status) else v
            for k, v in values.items()
        }
        tables.update_dossier(db, d.code, stored)
        return evolve(d, **values)

    def handoff_row(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        closed: Step | None,
        new: Step | None,
        at: datetime,
        *,
        giver_unit: str | None = None,
        giver_officer: str | None = None,
        note: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """The audit row of one handoff (giao – nhận), and the ``handoff`` hook. ``data``: the
        capacity the giver acted in, if not as the unit's own (:mod:`.permissions`)."""
        self.ctx.audit(
            db,
            dossier=d.code,
            event="handoff",
            at=iso(at),
            from_unit=closed.unit if closed else giver_unit,
            from_officer=(closed.closed_by if closed else giver_officer),
            to_unit=new.unit if new else None,
            to_officer=new.assignee if new else None,
            step_id=new.id if new else (closed.id if closed else None),
            share_minutes=new.share_minutes if new else None,
            due_at=iso(new.due_at) if new else None,
            result_class=closed.result_class if closed else None,
            note=note or (new.name if new else "chờ nhánh song song (awaiting a parallel branch)"),
            data=data,
        )
        self.ctx.hooks.call(
            "handoff", dossier=d, from_step=closed, to_step=new, at=at, db=db, _dossier=d.code
        )

    def open_new_steps(
        self,
        db: sqlite_utils.Database,
        proc: Procedure,
        d: Dossier,
        wf: BpmnWorkflow,
        now: datetime,
        known: Mapping[str, str] | None = None,
    ) -> list[Step]:
        """Open a step for each ready task that has none. ``known``: the open steps' task ids
        (and step kinds), if the caller has read them already."""
        if known is None:
            known = tables.open_task_ids(db, d.code)
        out = []
        # A flat scan of the task dict: SpiffWorkflow's tree iterator costs more.
        ready = TaskState.READY
        for task in [t for t in wf.tasks.values() if t._state == ready]:
            spec = proc.steps.get(task.task_spec.bpmn_id)
            if spec is None or not spec.is_step or str(task.id) in known:
                continue
            out.append(self.open_step_row(db, d, spec, str(task.id), now))
        return out

    def open_step_row(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        spec: StepSpec,
        task_id: str,
        now: datetime,
    ) -> Step:
        """Store a new open step for a ready task, with its due, warning and escalation
        instants; the ``choose_assignee`` hook may assign it."""
        ctx = self.ctx
        cal = ctx.calendar
        unit = d.routing[spec.role]
        due: datetime | None
        if spec.step_kind == "reception" and d.channel == Channel.ONLINE:
            due = cal.add_minutes(now, rules.ONLINE_RECEPTION_MINUTES)
        elif spec.share_minutes > 0:
            due = rules.step_due(now, spec.share_minutes, cal)
        else:
            due = d.appointment  # no share of its own: it must still finish by the appointment
        share = spec.share_minutes
        warn = rules.warn_at(now, share, cal) if share > 0 else None
        # A step due with the dossier that reaches its unit after the appointment carries
        # lateness it did not make (a hand-back to the desk): kept apart, not charged to it.
        arrived_late = due is not None and due <= now
        row = {
            "dossier": d.code,
            "task_id": task_id,
            "spec_id": spec.id,
            "name": spec.name,
            "kind": spec.kind,
            "step_kind": spec.step_kind,
            "role": spec.role,
            "unit": unit,
            "assignee": None,
            "status": "open",
            "opened_at": iso(now),
            "share_minutes": share,
            "due_at": iso(due),
            "warn_at": iso(warn),
            "next_escalation_at": iso(due),
            "arrived_late": int(arrived_late),
            "data": None,
        }
        if spec.kind == "service" and self.service_fields is not None:
            row.update(self.service_fields(now))
        step_id = tables.insert_step(db, row)
        if spec.kind == "service":
            ctx.pending_services.append(step_id)
        step = Step(
            id=step_id,
            dossier=d.code,
            task_id=task_id,
            spec_id=spec.id,
            name=spec.name,
            kind=spec.kind,
            step_kind=spec.step_kind,
            role=spec.role,
            unit=unit,
            assignee=None,
            status="open",
            opened_at=now,
            claimed_at=None,
            closed_at=None,
            closed_by=None,
            share_minutes=share,
            due_at=due,
            result_class=None,
            data={},
            warn_at=warn,
            next_escalation_at=due,
            arrived_late=arrived_late,
        )
        if spec.kind == "user" and ctx.hooks.has("choose_assignee"):
            u = ctx.org.unit(unit)
            candidates = tuple(ctx.org.members(unit))
            chosen = ctx.hooks.call(
                "choose_assignee",
                dossier=d,
                step=step,
                unit=u,
                candidates=candidates,
                _dossier=d.code,
            )
            if chosen is not None:
                if chosen not in {o.id for o in candidates}:
                    raise PluginError(
                        f"choose_assignee returned {chosen!r}, not an officer of {unit}"
                    )
                tables.update_step(db, step_id, {"assignee": chosen})
                step = evolve(step, assignee=chosen)
        return step

    def close_early(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        status: Status,
        at: datetime,
        note: str,
        **audit_fields: Any,
    ) -> Dossier:
        """Stop a dossier before its result: cancel the workflow and the open steps, set the
        status (3 refused, 7 withdrawn, 8 stopped), write the audit row. Returns the dossier."""
        wf = self.ctx.workflows.load(db, d)
        wf.cancel()
        tables.cancel_open_steps(db, d.code, iso(at))
        d = self.set(db, d, status=status, closed_at=at, note=note)
        self.ctx.audit(db, dossier=d.code, at=iso(at), note=note, **audit_fields)
        self.ctx.workflows.save(db, d.code, wf)
        return d

    def finish_step(
        self,
        db: sqlite_utils.Database,
        proc: Procedure,
        d: Dossier,
        step: Step,
        officer: str | None,
        data: Mapping[str, Any],
        *,
        acting: Mapping[str, Any] | None = None,
        rev: Any = UNREAD,
    ) -> Dossier:
        """Close a step in the workflow and the store, open what it made ready, record the
        handoffs, and move the dossier's status on. Returns the updated dossier. ``acting``: the
        capacity the officer acted in (a delegation, an escalation), written in the ``data`` of
        the audit rows that name them as the giver. ``rev``: the workflow state's stored
        revision, if the caller has read it in this transaction."""
        ctx = self.ctx
        cal = ctx.calendar
        now = ctx.clock.now()
        wf = ctx.workflows.load(db, d, rev)
        task = wf.get_task_from_id(UUID(step.task_id))
        if task is None or task.state != TaskState.READY:
            raise StepClosed(
                f"step {step.id} ({step.name}) of {d.code} is not ready in the workflow"
            )
        task.data.update(data)
        advance(wf, d.code, task)
        result = rules.classify(now, step.due_at)
        late = rules.late_minutes(now, step.due_at, cal)
        # Done past its due instant with no tick having seen it: it went overdue all the same,
        # at the instant it missed.
        overdue = step.first_overdue_at or (step.due_at if late else None)
        who = officer or "system"
        tables.update_step(
            db,
            step.id,
            {
                "status": "done",
                "closed_at": iso(now),
                "closed_by": who,
                "result_class": result,
                "late_minutes": late,
                "first_overdue_at": iso(overdue),
                "data": plain_json(dict(data), "data", fields=True),
                "assignee": step.assignee or officer,
                # A service step done: nothing is due, nobody holds it.
                **(_UNSCHEDULED if step.kind == "service" else {}),
            },
        )
        closed = evolve(
            step,
            status="done",
            closed_at=now,
            closed_by=who,
            result_class=result,
            late_minutes=late,
            first_overdue_at=overdue,
            data=dict(data),
            assignee=step.assignee or officer,
        )
        if step.step_kind == "reception" and d.received_at is None:
            # An online dossier accepted: the legal clock starts now (Art 17(2)).
            appointment = rules.appointment(proc, now, cal)
            start = cal.next_working_instant(now)
            reminder, latest = ctx.apology_instants(start, appointment)
            d = self.set(
                db,
                d,
                received_at=now,
                clock_start=start,
                appointment=appointment,
                original_appointment=appointment,
                legal_appointment=appointment,
                apology_at=reminder,
                apology_required_at=latest,
            )
        if d.status in (Status.NEW, Status.ACCEPTED):
            d = self.set(db, d, status=Status.PROCESSING)
        known = tables.open_task_ids(db, d.code)
        new_steps = self.open_new_steps(db, proc, d, wf, now, known)
        if not wf.completed and d.resolved_at is None:
            # Only the hand-over is left: the result is ready (status 9), before the handoff
            # hooks see the dossier.
            kinds = [*known.values(), *(s.step_kind for s in new_steps)]
            if kinds and all(k == "return" for k in kinds):
                d = self.resolve(db, d, now, Status.RESOLVED)
        if not new_steps and not wf.completed:
            self.handoff_row(db, d, closed, None, now, data=acting)
        for new in new_steps:
            self.handoff_row(db, d, closed, new, now, data=acting)
        if wf.completed:
            if d.resolved_at is None:  # no hand-over step: resolved and returned at once
                d = self.resolve(db, d, now, Status.RETURNED, closed_at=now)
            else:
                d = self.set(db, d, status=Status.RETURNED, closed_at=now)
            ctx.audit(
                db,
                dossier=d.code,
                event="returned",
                at=iso(now),
                from_unit=step.unit,
                from_officer=officer,
                to_unit=None,
                to_officer=APPLICANT,
                result_class=d.result_class,
                note="đã trả kết quả",
                data=acting,
            )
        ctx.workflows.save(db, d.code, wf)
        if wf.completed:
            ctx.hooks.call("result_returned", dossier=d, db=db, _dossier=d.code)
        return d

    def resolve(
        self, db: sqlite_utils.Database, d: Dossier, now: datetime, status: Status, **extra: Any
    ) -> Dossier:
        """The dossier's result is ready now: its classes on both clocks, the working minutes it
        is late by, and, if it is late, the units that made it late (``dossier_faults``).

        The legal clock measures against :attr:`Dossier.legal_appointment`, which an apology
        does not move: a dossier resolved after it is late (quá hạn) on both clocks, apology or
        not. The national indicators' clock (QĐ 766) keeps its own rule (:func:`_kpi_class`)."""
        cal = self.ctx.calendar
        legal = d.legal_appointment or d.appointment
        late = rules.late_minutes(now, legal, cal)
        if late and legal is not None:
            steps = self.ctx.records.steps_of(db, d.code)
            tables.record_faults(
                db, d.code, accountability.resolution_faults(steps, legal, now, cal)
            )
        return self.set(
            db,
            d,
            status=status,
            resolved_at=now,
            result_class=rules.classify(now, legal),
            kpi_class=_kpi_class(d, now, self.ctx),
            late_minutes=late,
            **extra,
        )


#: A done service step's scheduling columns.
_UNSCHEDULED = {"next_attempt_at": None, "leased_by": None, "lease_until": None}


def _kpi_class(d: Dossier, resolved: datetime, ctx: Context) -> str | None:
    return rules.kpi_classify(
        resolved,
        ctx.calendar,
        original_appointment=d.original_appointment,
        waiting_minutes=d.kpi_waiting_minutes,
        supplements=d.supplements,
    )
