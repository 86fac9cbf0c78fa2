"""Legal-time commands: supplement requests and their receipt (Decree 118/2025 Art 19(5),
Mẫu 02), financial-obligation pauses (status 6), and the apology with a new appointment
(Art 19(6), Mẫu 04).

The arithmetic is in :mod:`lienthong.legaltime.rules` (pure functions) and
:mod:`lienthong.legaltime.calendar`; the timers that fire on their own are in
:mod:`lienthong.engine.tick`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlite_utils

from lienthong.engine import permissions
from lienthong.engine.context import APPLICANT, Context, iso
from lienthong.engine.progress import Progress
from lienthong.errors import InvalidData, NotAllowed, SlaError
from lienthong.legaltime import rules
from lienthong.status import Status
from lienthong.store import audit, tables
from lienthong.store.records import Dossier, Step, parse_instant


class LegalTimeCommands:
    """Supplements (status 5), financial obligations (status 6) and the apology."""

    def __init__(self, ctx: Context, progress: Progress) -> None:
        self.ctx = ctx
        self.progress = progress

    # -- supplements (Decree 118/2025 Art 19(5)) ----------------------------------------------
    def request_supplement(
        self,
        dossier: str,
        *,
        officer: str,
        missing: Sequence[str],
        reason: str,
    ) -> Dossier:
        """Ask the applicant for missing documents (Mẫu 02; status 5).

        Allowed within the supplement window (3 working days by default) of the officer's unit
        receiving the dossier, once per unit per dossier. The legal deadline restarts in full
        when the supplement arrives (:meth:`receive_supplement`); with no supplement within
        15 days the dossier is closed by :meth:`tick`.
        """
        if not missing or not all(isinstance(m, str) and m.strip() for m in missing):
            raise InvalidData(f"request_supplement {dossier}: 'missing' must list documents")
        if not reason or not reason.strip():
            raise InvalidData(f"request_supplement {dossier}: a reason is required (Mẫu 02)")
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.status not in (Status.PROCESSING, Status.ACCEPTED):
                raise SlaError(f"dossier {dossier} is {d.status.label}: no supplement request now")
            now = self.ctx.clock.now()
            unit = permissions.may_request_supplement(
                self.ctx.org,
                officer,
                dossier=dossier,
                open_units=[s.unit for s in self.ctx.open_steps_of(db, dossier)],
                at=now,
            )
            o = self.ctx.org.officer(officer)
            got = parse_instant(tables.first_opened_at(db, dossier, unit)) or now
            used = self.ctx.calendar.between(got, now)
            # Sector law may set another window than the decree's 3 working days.
            window = self.ctx.procedure(d.procedure_version).supplement_window_minutes
            window = self.ctx.supplement_window if window is None else window
            if used > window:
                raise SlaError(
                    f"dossier {dossier}: unit {unit} received it {used} working minutes ago; a "
                    f"supplement may be requested only within {window} "
                    "(Decree 118/2025 Art 19(5))"
                )
            asked = audit.count_events(db, dossier, "supplement_requested", unit)
            if asked >= self.ctx.supplements_per_unit:
                raise SlaError(
                    f"dossier {dossier}: unit {unit} already asked for a supplement "
                    f"(at most {self.ctx.supplements_per_unit} per unit)"
                )
            close_at = now + timedelta(days=rules.SUPPLEMENT_CLOSE_DAYS)
            tables.update_dossier(
                db,
                dossier,
                {
                    "status": int(Status.SUPPLEMENT_REQUESTED),
                    "supplements": d.supplements + 1,
                    "supplement_requested_at": iso(now),
                    "supplement_close_at": iso(close_at),
                },
            )
            request = {
                "missing": list(missing),
                "reason": reason,
                "officer": officer,
                "unit": unit,
                "requested_at": iso(now),
            }
            self.ctx.audit(
                db,
                dossier=dossier,
                event="supplement_requested",
                at=iso(now),
                from_unit=unit,
                from_officer=o.id,
                to_officer=APPLICANT,
                note=reason,
                data=request,
            )
            out = self.ctx.dossier(db, dossier)
            self.ctx.hooks.call(
                "supplement_requested", dossier=out, request=request, db=db, _dossier=dossier
            )
            return out

    def receive_supplement(
        self,
        dossier: str,
        *,
        officer: str | None = None,
        documents: Sequence[str] = (),
    ) -> Dossier:
        """The complete supplement arrived: back to status 4, and the legal deadline restarts in
        full from now; open steps get their whole share again from now."""
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.status != Status.SUPPLEMENT_REQUESTED:
                raise SlaError(
                    f"dossier {dossier} is not waiting for a supplement ({d.status.label})"
                )
            now = self.ctx.clock.now()
            permissions.may_receive_supplement(
                self.ctx.org, officer, dossier=dossier, receiving_unit=d.receiving_unit, at=now
            )
            proc = self.ctx.procedure(d.procedure_version)
            asked = parse_instant(tables.supplement_requested_at(db, dossier)) or now
            appointment = rules.appointment(proc, now, self.ctx.calendar)
            tables.update_dossier(
                db,
                dossier,
                {
                    "status": int(Status.PROCESSING),
                    "appointment": iso(appointment),
                    "apology_at": iso(self.ctx.apology_at(appointment)),
                    "apology_fired": 0,
                    "supplement_close_at": None,
                    "clock_start": iso(self.ctx.calendar.next_working_instant(now)),
                    "kpi_waiting_minutes": d.kpi_waiting_minutes
                    + self.ctx.calendar.between(asked, now),
                },
            )
            for s in self.ctx.open_steps_of(db, dossier):
                self._retime_step(db, s, now, s.share_minutes, appointment)
            self.ctx.audit(
                db,
                dossier=dossier,
                event="supplement_received",
                at=iso(now),
                from_officer=APPLICANT,
                to_unit=d.receiving_unit,
                to_officer=officer,
                due_at=iso(appointment),
                note="nhận đủ hồ sơ bổ sung; thời hạn tính lại từ đầu",
                data={"documents": list(documents)},
            )
            out = self.ctx.dossier(db, dossier)
            self.ctx.hooks.call("supplement_received", dossier=out, at=now, db=db, _dossier=dossier)
            return out

    # -- financial obligation (status 6): a pause ----------------------------------------------
    def start_obligation(self, dossier: str, *, officer: str, note: str = "") -> Dossier:
        """The applicant must pay a financial obligation (nghĩa vụ tài chính): the clock pauses."""
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.status != Status.PROCESSING:
                raise SlaError(f"dossier {dossier} is {d.status.label}: cannot pause it now")
            now = self.ctx.clock.now()
            permissions.may_pause(
                self.ctx.org,
                officer,
                dossier=dossier,
                open_units=[s.unit for s in self.ctx.open_steps_of(db, dossier)],
                receiving_unit=d.receiving_unit,
                at=now,
            )
            tables.update_dossier(
                db,
                dossier,
                {"status": int(Status.FINANCIAL_OBLIGATION), "paused_since": iso(now)},
            )
            self.ctx.audit(
                db,
                dossier=dossier,
                event="obligation_started",
                at=iso(now),
                from_officer=officer,
                to_officer=APPLICANT,
                note=note or "chờ thực hiện nghĩa vụ tài chính",
            )
            return self.ctx.dossier(db, dossier)

    def end_obligation(self, dossier: str, *, officer: str | None = None) -> Dossier:
        """The obligation is paid: every due instant shifts by the working time the pause lasted."""
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.status != Status.FINANCIAL_OBLIGATION or d.paused_since is None:
                raise SlaError(f"dossier {dossier} is not paused for a financial obligation")
            now = self.ctx.clock.now()
            permissions.may_resume(
                self.ctx.org,
                officer,
                dossier=dossier,
                open_units=[s.unit for s in self.ctx.open_steps_of(db, dossier)],
                receiving_unit=d.receiving_unit,
                at=now,
            )
            p = self.ctx.calendar.between(d.paused_since, now)

            def shift(t: datetime | None, minutes: int) -> datetime | None:
                # add_minutes(t, 0) is next_working_instant(t): 17:00 would become 08:00.
                return t if t is None or minutes == 0 else self.ctx.calendar.add_minutes(t, minutes)

            appointment = shift(d.appointment, p)
            tables.update_dossier(
                db,
                dossier,
                {
                    "status": int(Status.PROCESSING),
                    "paused_since": None,
                    "paused_minutes": d.paused_minutes + p,
                    "kpi_waiting_minutes": d.kpi_waiting_minutes + p,
                    "appointment": iso(appointment),
                    "apology_at": iso(self.ctx.apology_at(appointment))
                    if not d.apology_issued_at
                    else None,
                },
            )
            for s in self.ctx.open_steps_of(db, dossier):
                # A step opened during the pause lived through only the rest of it.
                lived = (
                    p
                    if s.opened_at <= d.paused_since
                    else self.ctx.calendar.between(s.opened_at, now)
                )
                moved = {
                    col: iso(shift(getattr(s, col), lived))
                    for col in ("due_at", "warn_at", "next_escalation_at")
                    if getattr(s, col) is not None
                }
                if moved and lived:
                    tables.update_step(db, s.id, moved)
            self.ctx.audit(
                db,
                dossier=dossier,
                event="obligation_ended",
                at=iso(now),
                from_officer=APPLICANT,
                to_officer=officer,
                due_at=iso(appointment),
                note=f"tạm dừng {p} phút làm việc",
                data={"paused_minutes": p},
            )
            return self.ctx.dossier(db, dossier)

    # -- the apology and new appointment (Art 19(6), Mẫu 04) -----------------------------------
    def apologise(
        self,
        dossier: str,
        *,
        officer: str,
        reason: str,
        new_appointment: datetime,
    ) -> Dossier:
        """The resolving unit's head apologises and sets a new appointment, once per dossier."""
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
            units = {s.unit for s in self.ctx.open_steps_of(db, dossier)}
            heads = {u: self.ctx.org.unit(u) for u in units}
            signer_units = [
                u for u, unit in heads.items() if officer == unit.head or officer in unit.deputies
            ]
            if not signer_units:
                raise NotAllowed(
                    f"apologise {dossier}: {officer} is not the head or a deputy of a unit with "
                    f"open work on it ({', '.join(sorted(units)) or 'none'})"
                )
            if d.appointment is not None and new_appointment <= d.appointment:
                raise InvalidData(
                    f"apologise {dossier}: the new appointment {new_appointment.isoformat()} is "
                    f"not after the current one {d.appointment.isoformat()}"
                )
            now = self.ctx.clock.now()
            late = d.apology_at is not None and now > d.apology_at
            tables.update_dossier(
                db,
                dossier,
                {
                    "appointment": iso(new_appointment),
                    "apology_issued_at": iso(now),
                    "apology_at": None,
                    "apology_fired": 1,
                },
            )
            self.ctx.audit(
                db,
                dossier=dossier,
                event="apology",
                at=iso(now),
                from_unit=signer_units[0],
                from_officer=officer,
                to_officer=APPLICANT,
                due_at=iso(new_appointment),
                note=reason + (" (muộn hơn 1 ngày làm việc trước hạn)" if late else ""),
                data={
                    "reason": reason,
                    "old_appointment": iso(d.appointment),
                    "new_appointment": iso(new_appointment),
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

    # -- helpers -------------------------------------------------------------------------------
    def _retime_step(
        self,
        db: sqlite_utils.Database,
        s: Step,
        start: datetime,
        share: int,
        appointment: datetime | None,
    ) -> None:
        due = rules.step_due(start, share, self.ctx.calendar) if share > 0 else appointment
        tables.update_step(
            db,
            s.id,
            {
                "due_at": iso(due),
                "warn_at": iso(rules.warn_at(start, share, self.ctx.calendar)),
                "next_escalation_at": iso(due),
                "escalation_level": 0,
                "escalated_to": None,
            },
        )
