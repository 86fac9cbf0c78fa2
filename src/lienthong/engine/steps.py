"""Reception and steps: receive a dossier, claim and complete its steps, return the result,
withdraw or refuse it. Who may act is decided by :mod:`lienthong.engine.permissions`, which
these commands call inside their transaction (see ``docs/permissions.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from lienthong.bpmn.procedures import Procedure
from lienthong.engine import permissions
from lienthong.engine.context import APPLICANT, Context, iso, plain_json
from lienthong.engine.progress import Progress
from lienthong.engine.services import ServiceSteps
from lienthong.engine.validation import check_data, document
from lienthong.engine.workflows import advance
from lienthong.errors import InvalidData, NotAllowed, SlaError
from lienthong.legaltime import rules
from lienthong.legaltime.clock import VN_TZ
from lienthong.org import Organisation
from lienthong.status import Channel, Status
from lienthong.store import tables
from lienthong.store.due import PAUSED
from lienthong.store.records import Dossier, Step


def default_unit(org: Organisation, role: str, receiving: str) -> str:
    """The unit that works a lane role when no routing says: the receiving unit if it holds the
    role, else the unit holding it nearest to it."""
    if role in org.unit(receiving).roles:
        return receiving
    return org.resolve_role(role, near=receiving).code


class StepCommands:
    """The commands that carry a dossier from reception to its result."""

    def __init__(self, ctx: Context, progress: Progress, services: ServiceSteps) -> None:
        self.ctx = ctx
        self.progress = progress
        self.services = services

    def receive(
        self,
        procedure: str,
        *,
        applicant: Mapping[str, Any],
        receiving_unit: str,
        documents: Sequence[Mapping[str, Any] | str] = (),
        channel: Channel | int = Channel.DIRECT,
        officer: str | None = None,
        routing: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Dossier:
        """See :meth:`lienthong.engine.Engine.receive`."""
        ctx = self.ctx
        proc = ctx.procedure(procedure)
        ctx.org.unit(receiving_unit)
        if not isinstance(applicant, Mapping) or not str(applicant.get("name", "")).strip():
            raise InvalidData("applicant: a mapping with at least a non-empty 'name' is required")
        try:
            channel = Channel(int(channel))
        except (ValueError, TypeError):
            raise InvalidData(
                f"channel: {channel!r} is not 1 (direct), 2 (online) or 3 (postal)"
            ) from None
        acting = permissions.may_receive(ctx.org, officer, unit=receiving_unit, at=ctx.clock.now())
        docs = tuple(document(d, i) for i, d in enumerate(documents))
        applicant_json = plain_json(dict(applicant), "applicant")
        extra = check_data(data, "data")
        problems = [
            p
            for batch in ctx.hooks.call(
                "check_documents", procedure=proc, documents=docs, applicant=dict(applicant)
            )
            for p in (batch or ())
        ]
        if problems:
            raise InvalidData(f"documents for {proc.code}: " + "; ".join(problems))
        fee = ctx.hooks.call(
            "compute_fees", procedure=proc, documents=docs, applicant=dict(applicant)
        )
        units = self._route(proc, receiving_unit, routing or {})
        now = ctx.clock.now()
        cal = ctx.calendar
        progress = self.progress
        with ctx.command() as db:
            code = self._next_code(db, receiving_unit, now)
            received = channel != Channel.ONLINE
            appointment = rules.appointment(proc, now, cal) if received else None
            clock_start = cal.next_working_instant(now) if received else None
            reminder, latest = ctx.apology_instants(clock_start, appointment)
            tables.insert_dossier(
                db,
                {
                    "code": code,
                    "procedure_code": proc.code,
                    "procedure_version": proc.version,
                    "receiving_unit": receiving_unit,
                    "channel": int(channel),
                    "status": int(Status.ACCEPTED if received else Status.NEW),
                    "applicant": applicant_json,
                    "documents": plain_json(list(docs), "documents"),
                    "routing": plain_json(units, "routing"),
                    "arrived_at": iso(now),
                    "received_at": iso(now) if received else None,
                    "clock_start": iso(clock_start),
                    "appointment": iso(appointment),
                    "original_appointment": iso(appointment),
                    "legal_appointment": iso(appointment),
                    "apology_at": iso(reminder),
                    "apology_required_at": iso(latest),
                    "fee": fee,
                },
            )
            wf = ctx.workflows.new(proc)
            wf.data.update(
                {
                    "dossier_code": code,
                    "channel": int(channel),
                    "applicant": dict(applicant),
                    "documents": [d["code"] for d in docs],
                    **extra,
                }
            )
            wf.task_tree.data.update(wf.data)
            advance(wf, code, None)
            dossier = ctx.dossier(db, code)
            new_steps = progress.open_new_steps(db, proc, dossier, wf, now)
            first = new_steps[0] if new_steps else None
            # The reception row is the first handoff: applicant -> the first step's unit.
            ctx.audit(
                db,
                dossier=code,
                event="received",
                at=iso(now),
                from_unit=None,
                from_officer=APPLICANT,
                to_unit=first.unit if first else receiving_unit,
                to_officer=officer or (first.assignee if first else None),
                step_id=first.id if first else None,
                share_minutes=first.share_minutes if first else None,
                due_at=iso(first.due_at if first else appointment),
                note=f"{proc.code} – {channel.name.lower()}",
                data=acting,
            )
            for step in new_steps:
                if step is not first:
                    progress.handoff_row(
                        db,
                        dossier,
                        None,
                        step,
                        now,
                        giver_unit=receiving_unit,
                        giver_officer=officer,
                        data=acting,
                    )
                else:
                    ctx.hooks.call(
                        "handoff",
                        dossier=dossier,
                        from_step=None,
                        to_step=step,
                        at=now,
                        db=db,
                        _dossier=code,
                    )
            ctx.workflows.save(db, code, wf)
            dossier = ctx.dossier(db, code)
            ctx.hooks.call("dossier_received", dossier=dossier, db=db, _dossier=code)
            prepared = self.services.prepare(db, code)
        # Committed: now the service steps it opened run, outside the transaction.
        return self.services.after_command(dossier, prepared)

    def claim(self, dossier: str, step_id: int, officer: str) -> Step:
        """See :meth:`lienthong.engine.Engine.claim`."""
        ctx = self.ctx
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            step = ctx.open_step(db, d, step_id)
            now = ctx.clock.now()
            acting = self._check_officer(step, officer, "claim", now)
            tables.update_step(
                db, step_id, {"assignee": officer, "claimed_at": iso(now), "status": "claimed"}
            )
            ctx.audit(
                db,
                dossier=dossier,
                event="claimed",
                at=iso(now),
                from_unit=step.unit,
                to_unit=step.unit,
                to_officer=officer,
                step_id=step_id,
                share_minutes=step.share_minutes,
                due_at=iso(step.due_at),
                data=acting,
            )
            return ctx.step(db, step_id)

    def complete(
        self, dossier: str, step_id: int, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """See :meth:`lienthong.engine.Engine.complete`."""
        ctx = self.ctx
        data = check_data(data, f"data for step {step_id} of {dossier}")
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            step = ctx.open_step(db, d, step_id)
            if d.status in PAUSED:
                # The applicant holds the dossier: finishing the work now would end the wait
                # behind everyone's back (and RESOLVED would overwrite the status).
                raise SlaError(
                    f"dossier {dossier} is waiting for the applicant (status {int(d.status)}, "
                    f"{d.status.label}): no step of it completes until "
                    + (
                        "the supplement is received"
                        if d.status == Status.SUPPLEMENT_REQUESTED
                        else "the financial obligation is paid (end_obligation)"
                    )
                )
            if step.kind != "user":
                raise NotAllowed(
                    f"step {step_id} ({step.name}) of {dossier} is a service step: plugins run it; "
                    "use retry()"
                )
            acting = self._check_officer(step, officer, "complete", ctx.clock.now())
            proc = ctx.procedure(d.procedure_version)
            spec = proc.steps[step.spec_id]
            if step.step_kind == "reception" and data.get("accepted") is False:
                return self._refuse(db, d, step, officer, data, acting)
            missing = [f for f in spec.required_fields if data.get(f) in (None, "")]
            if missing:
                raise InvalidData(
                    f"step {step_id} ({step.name}) of {dossier}: missing required field(s) "
                    f"{', '.join(missing)}"
                )
            d = self.progress.finish_step(db, proc, d, step, officer, data, acting=acting)
            prepared = self.services.prepare(db, dossier)
        # Committed: the officer's work stands whatever the service steps it opened come to.
        return self.services.after_command(d, prepared)

    def return_result(
        self, dossier: str, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """See :meth:`lienthong.engine.Engine.return_result`."""
        ctx = self.ctx
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            found = ctx.records.open_return_steps(db, dossier)
        if not found:
            raise NotAllowed(
                f"dossier {dossier} has no result ready to return (status {d.status.label})"
            )
        return self.complete(dossier, found[0].id, officer, data)

    def withdraw(
        self, dossier: str, *, reason: str, officer: str | None = None, by_agency: bool = False
    ) -> Dossier:
        """See :meth:`lienthong.engine.Engine.withdraw`."""
        ctx = self.ctx
        if not reason or not str(reason).strip():
            raise InvalidData(f"withdraw {dossier}: a reason is required")
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            if by_agency:
                lanes = ctx.procedure(d.procedure_version).lanes.values()
                permissions.may_withdraw_for_agency(
                    ctx.org,
                    officer,
                    dossier=dossier,
                    receiving_unit=d.receiving_unit,
                    resolving=permissions.resolving_units(
                        d.routing, [lane.role for lane in lanes if not lane.coordinating]
                    ),
                )
                acting = None  # the leadership's own act: a delegation does not give it
            else:
                acting = permissions.may_withdraw_for_applicant(
                    ctx.org,
                    officer,
                    dossier=dossier,
                    receiving_unit=d.receiving_unit,
                    at=ctx.clock.now(),
                )
            status = Status.STOPPED if by_agency else Status.WITHDRAWN
            self.progress.close_early(
                db,
                d,
                status,
                ctx.clock.now(),
                str(reason),
                event="withdrawn",
                from_officer=APPLICANT if not by_agency else officer,
                to_unit=d.receiving_unit,
                to_officer=officer,
                data=acting,
            )
            out = ctx.dossier(db, dossier)
            ctx.hooks.call(
                "dossier_withdrawn", dossier=out, reason=str(reason), db=db, _dossier=dossier
            )
            return out

    # -- internals ---------------------------------------------------------------------------
    def _refuse(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        step: Step,
        officer: str,
        data: Mapping[str, Any],
        acting: permissions.Acting,
    ) -> Dossier:
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise InvalidData(f"refusing {d.code}: data must give a 'reason' (Mẫu 03)")
        tables.update_step(
            db,
            step.id,
            {
                "status": "done",
                "closed_by": officer,
                "data": plain_json(dict(data), "data", fields=True),
            },
        )
        return self.progress.close_early(
            db,
            d,
            Status.REFUSED,
            self.ctx.clock.now(),
            reason,
            event="refused",
            from_unit=step.unit,
            from_officer=officer,
            to_officer=APPLICANT,
            step_id=step.id,
            data=acting,
        )

    def _check_officer(
        self, step: Step, officer: str, action: str, at: datetime
    ) -> permissions.Acting:
        """May the officer claim or complete the step? The capacity they act in, for the audit
        (with the step's id, so that the control sheet finds who took which step how)."""
        acting = permissions.may_work_step(
            self.ctx.org,
            officer,
            action=action,
            step=permissions.step_label(step.id, step.name, step.dossier),
            unit=step.unit,
            assignee=step.assignee,
            escalated_to=step.escalated_to,
            at=at,
            escalation_level=step.escalation_level,
        )
        return _for_step(acting, step.id)

    def _route(self, proc: Procedure, receiving: str, routing: Mapping[str, str]) -> dict[str, str]:
        org = self.ctx.org
        out: dict[str, str] = {}
        roles = {lane.role for lane in proc.lanes.values()}
        for role, unit in routing.items():
            if role not in roles:
                raise InvalidData(f"routing: {proc.code} has no lane with role {role!r}")
            permissions.check_routing(org, role, unit)
        for role in sorted(roles):
            out[role] = routing[role] if role in routing else default_unit(org, role, receiving)
        return out

    @staticmethod
    def _next_code(db: sqlite_utils.Database, unit: str, now: datetime) -> str:
        day = now.astimezone(VN_TZ).strftime("%y%m%d")
        n = tables.next_sequence(db, unit, day)
        # The decree fixes the parts of the code, not the width: the 10,000th is ...-10000.
        return f"{unit}-{day}-{n:04d}"


def _for_step(acting: permissions.Acting, step_id: int) -> permissions.Acting:
    return None if acting is None else {**acting, "step": step_id}
