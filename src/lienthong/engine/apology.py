"""The apology with a new appointment (Decree 118/2025 Art 19(6); Circular 03/2025 Mẫu 04):
who must sign it (:mod:`lienthong.engine.accountability`), when it is late, what it moves and
what it does not.

The tick's reminder is in :mod:`lienthong.engine.tick`; the instants (the reminder, the legal
latest instant) in :func:`lienthong.legaltime.rules.apology_instants`.
"""

from __future__ import annotations

from datetime import datetime

from lienthong.engine import accountability, permissions
from lienthong.engine.context import APPLICANT, Context, iso
from lienthong.engine.legal import keep_overdue, retime_step
from lienthong.errors import InvalidData, SlaError
from lienthong.store import tables
from lienthong.store.records import Dossier


class ApologyCommands:
    """The apology, once per dossier, from the unit at fault."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def apologise(
        self,
        dossier: str,
        *,
        officer: str,
        reason: str,
        new_appointment: datetime,
    ) -> Dossier:
        """The unit at fault apologises and sets a new appointment (Mẫu 04), once per dossier.

        The signer is the head or a deputy of a unit at fault
        (:func:`~lienthong.engine.accountability.apology_units`): a unit whose own step is
        overdue or was done late; with none, a unit holding the open work; where the procedure
        says ``lienthong:apology-by`` = ``lead``, the lead agency instead. Refused with no
        appointment yet (an online dossier not accepted). After the legal latest instant
        (``apology_required_at``) it is accepted — the applicant must still get one — and
        recorded as late. The new appointment moves the appointment, not the fact: the
        dossier's lateness is measured against ``legal_appointment``, which stays. Open steps
        without a share of their own are due at the new appointment.
        """
        if not reason or not reason.strip():
            raise InvalidData(f"apologise {dossier}: a reason is required (Mẫu 04)")
        if new_appointment.tzinfo is None:
            raise InvalidData(f"apologise {dossier}: new_appointment must be timezone-aware")
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.apology_issued_at is not None:
                raise SlaError(
                    f"dossier {dossier}: an apology with a new appointment was already issued on "
                    f"{d.apology_issued_at.isoformat()}; the appointment may be reset only once "
                    "(Decree 118/2025 Art 19(6))"
                )
            if d.appointment is None:
                raise SlaError(
                    f"dossier {dossier} has no appointment yet ({d.status.label}: an online "
                    "dossier not yet accepted): there is nothing to apologise for or to move; "
                    "accept or refuse it first"
                )
            now = self.ctx.clock.now()
            for what, t in (("the current one", d.appointment), ("now", now)):
                if new_appointment <= t:
                    raise InvalidData(
                        f"apologise {dossier}: the new appointment {new_appointment.isoformat()} "
                        f"is not after {what} ({t.isoformat()})"
                    )
            proc = self.ctx.procedure(d.procedure_version)
            steps = self.ctx.records.steps_of(db, dossier)
            at_fault = accountability.apology_units(proc, d, steps, now)
            unit = permissions.may_apologise(
                self.ctx.org,
                officer,
                dossier=dossier,
                at_fault=[(f.unit, f.why) for f in at_fault],
            )
            required = d.apology_required_at or d.apology_at
            late = required is not None and now > required
            open_steps = [s for s in steps if s.is_open]
            keep_overdue(db, open_steps, d.paused_since or now)
            tables.update_dossier(
                db,
                dossier,
                {
                    "appointment": iso(new_appointment),
                    "apology_issued_at": iso(now),
                    "apology_at": None,
                    "apology_fired": 1,
                    "apology_required_at": iso(required),
                    "apology_unit": unit,
                    "apology_by": officer,
                    "apology_late": int(late),
                },
            )
            for s in open_steps:
                if accountability.due_with_dossier(s, d):
                    retime_step(self.ctx, db, s, now, 0, new_appointment)
            self.ctx.audit(
                db,
                dossier=dossier,
                event="apology",
                at=iso(now),
                from_unit=unit,
                from_officer=officer,
                to_officer=APPLICANT,
                due_at=iso(new_appointment),
                note=reason
                + (" (muộn: sau thời hạn xin lỗi, 1 ngày làm việc trước hạn)" if late else ""),
                data={
                    "reason": reason,
                    "old_appointment": iso(d.appointment),
                    "new_appointment": iso(new_appointment),
                    "required_at": iso(required),
                    "late": late,
                },
            )
            out = self.ctx.dossier(db, dossier)
            self.ctx.hooks.call(
                "apology_issued",
                dossier=out,
                reason=reason,
                new_appointment=new_appointment,
                signed_by=officer,
                old_appointment=d.appointment,
                db=db,
                _dossier=dossier,
            )
            return out
