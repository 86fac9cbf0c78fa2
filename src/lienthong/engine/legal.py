"""Legal-time commands: supplement requests and their receipt (Decree 118/2025 Art 19(5),
Mẫu 02) and financial-obligation pauses (status 6); the apology with a new appointment (Art
19(6), Mẫu 04) is in :mod:`lienthong.engine.apology`.

The arithmetic is in :mod:`lienthong.legaltime.rules` (pure functions) and
:mod:`lienthong.legaltime.calendar`; the timers that fire on their own are in
:mod:`lienthong.engine.tick`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlite_utils

from lienthong.engine import accountability, permissions
from lienthong.engine.context import APPLICANT, Context, iso
from lienthong.engine.progress import Progress
from lienthong.errors import InvalidData, SlaError
from lienthong.legaltime import rules
from lienthong.status import Status
from lienthong.store import audit, tables
from lienthong.store.records import Dossier, Step, parse_instant


class LegalTimeCommands:
    """Supplements (status 5) and financial obligations (status 6)."""

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
            acting = permissions.by_delegation(self.ctx.org, officer, unit, now)
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
            # The supplement will restart every open step's clock: what is overdue now stays
            # recorded as such.
            keep_overdue(db, self.ctx.open_steps_of(db, dossier), now)
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
                data={**request, **acting} if acting else request,
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
            acting = permissions.may_receive_supplement(
                self.ctx.org, officer, dossier=dossier, receiving_unit=d.receiving_unit, at=now
            )
            proc = self.ctx.procedure(d.procedure_version)
            asked = parse_instant(tables.supplement_requested_at(db, dossier)) or now
            appointment = rules.appointment(proc, now, self.ctx.calendar)
            start = self.ctx.calendar.next_working_instant(now)
            values: dict[str, object] = {
                "status": int(Status.PROCESSING),
                "appointment": iso(appointment),
                # The deadline restarts in full (Art 19(5)): a new legal appointment, not an
                # apology's extension.
                "legal_appointment": iso(appointment),
                "supplement_close_at": None,
                "clock_start": iso(start),
                "kpi_waiting_minutes": d.kpi_waiting_minutes
                + self.ctx.calendar.between(asked, now),
            }
            if d.apology_issued_at is None:  # once issued, the apology's facts stand
                reminder, latest = self.ctx.apology_instants(start, appointment)
                values.update(
                    apology_at=iso(reminder), apology_required_at=iso(latest), apology_fired=0
                )
            tables.update_dossier(db, dossier, values)
            for s in self.ctx.open_steps_of(db, dossier):
                retime_step(self.ctx, db, s, now, s.share_minutes, appointment)
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
                data={"documents": list(documents), **(acting or {})},
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
            acting = permissions.may_pause(
                self.ctx.org,
                officer,
                dossier=dossier,
                open_units=[s.unit for s in self.ctx.open_steps_of(db, dossier)],
                receiving_unit=d.receiving_unit,
                at=now,
            )
            # The pause will shift every open step's due instant: what is overdue now stays
            # recorded as such.
            keep_overdue(db, self.ctx.open_steps_of(db, dossier), now)
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
                data=acting,
            )
            return self.ctx.dossier(db, dossier)

    def end_obligation(self, dossier: str, *, officer: str | None = None) -> Dossier:
        """The obligation is paid: every due instant shifts by the working time the pause lasted."""
        with self.ctx.command(dossier) as db:
            d = self.ctx.open_dossier(db, dossier)
            if d.status != Status.FINANCIAL_OBLIGATION or d.paused_since is None:
                raise SlaError(f"dossier {dossier} is not paused for a financial obligation")
            now = self.ctx.clock.now()
            acting = permissions.may_resume(
                self.ctx.org,
                officer,
                dossier=dossier,
                open_units=[s.unit for s in self.ctx.open_steps_of(db, dossier)],
                receiving_unit=d.receiving_unit,
                at=now,
            )
            cal = self.ctx.calendar
            p = cal.between(d.paused_since, now)

            def shift(t: datetime | None, minutes: int) -> datetime | None:
                # add_minutes(t, 0) is next_working_instant(t): 17:00 would become 08:00.
                return t if t is None or minutes == 0 else cal.add_minutes(t, minutes)

            def shift_latest(t: datetime | None) -> datetime | None:
                # The apology's instants are the latest of their kind (Monday 08:00, not
                # Friday 17:00): they stay so.
                return t if t is None or p == 0 else rules.latest_instant(cal, t, p)

            appointment = shift(d.appointment, p)
            values: dict[str, object] = {
                "status": int(Status.PROCESSING),
                "paused_since": None,
                "paused_minutes": d.paused_minutes + p,
                "kpi_waiting_minutes": d.kpi_waiting_minutes + p,
                "appointment": iso(appointment),
                "legal_appointment": iso(shift(d.legal_appointment, p)),
            }
            if d.apology_issued_at is None:  # once issued, the apology's facts stand
                values["apology_at"] = iso(shift_latest(d.apology_at))
                values["apology_required_at"] = iso(shift_latest(d.apology_required_at))
            tables.update_dossier(db, dossier, values)
            for s in self.ctx.open_steps_of(db, dossier):
                if accountability.due_with_dossier(s, d):
                    # Due with the dossier, pause or not: exactly its new appointment.
                    moved = {
                        "due_at": iso(appointment),
                        "next_escalation_at": iso(appointment)
                        if s.escalation_level == 0
                        else iso(shift(s.next_escalation_at, p)),
                    }
                    tables.update_step(db, s.id, moved)
                    continue
                # No step completes during a pause, so none opened during it: each lived through
                # the whole pause. (Kept general: one opened during it lived through the rest.)
                lived = p if s.opened_at <= d.paused_since else cal.between(s.opened_at, now)
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
                data={"paused_minutes": p, **(acting or {})},
            )
            return self.ctx.dossier(db, dossier)


# -- helpers the legal-time commands share (the apology's too) ----------------------------------
def retime_step(
    ctx: Context,
    db: sqlite_utils.Database,
    s: Step,
    start: datetime,
    share: int,
    appointment: datetime | None,
) -> None:
    """Give an open step a new clock from ``start``: its whole share, or the dossier's
    ``appointment`` if it has none; its escalation starts again. Lateness it had received
    (``arrived_late``) is gone with the old due instant: from now on it is its own."""
    due = rules.step_due(start, share, ctx.calendar) if share > 0 else appointment
    tables.update_step(
        db,
        s.id,
        {
            "due_at": iso(due),
            "warn_at": iso(rules.warn_at(start, share, ctx.calendar)),
            "next_escalation_at": iso(due),
            "escalation_level": 0,
            "escalated_to": None,
            "arrived_late": int(due is not None and due <= start),
        },
    )


def keep_overdue(db: sqlite_utils.Database, steps: Sequence[Step], at: datetime) -> None:
    """Before a command moves the due instants of open steps, record those already past theirs
    at ``at`` as overdue (a tick may not have run since): the fact outlives the move."""
    for s in steps:
        if s.is_open and s.due_at is not None and s.due_at < at and s.first_overdue_at is None:
            tables.mark_overdue(db, s.id, iso(s.due_at))
