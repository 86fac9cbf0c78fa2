"""Legal-time commands of the Engine: supplements, financial-obligation pauses, the apology, tick.

Kept apart from :mod:`lienthong.engine` so that the SLA rules have a room of their own; the
arithmetic itself is in :mod:`lienthong.sla` (pure functions) and :mod:`lienthong.calendar`.

``tick(now)`` finds what has fallen due through indexed columns (``steps.warn_at``,
``steps.next_escalation_at``, ``dossiers.apology_at``, ``dossiers.supplement_close_at``) without
loading any workflow, and acts on each item in its own transaction, stamped with the instant it
fell due, in order. Each action moves its own index column past ``now``, so a second tick at the
same instant finds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import sqlite_utils

from . import sla, store
from .errors import InvalidData, NotAllowed, SlaError
from .records import Dossier, Step, parse_instant
from .status import Status

if TYPE_CHECKING:
    from .engine import Engine

PAUSED = (int(Status.SUPPLEMENT_REQUESTED), int(Status.FINANCIAL_OBLIGATION))


def _iso(t: datetime | None) -> str | None:
    from .engine import _iso as iso

    return iso(t)


@attrs.frozen
class TickReport:
    """What one tick did: each action as (instant it fell due, kind, dossier, step id)."""

    actions: tuple[tuple[datetime, str, str, int | None], ...]

    def count(self, kind: str) -> int:
        """How many actions of one kind (warning, escalated, apology_required, ...)."""
        return sum(1 for a in self.actions if a[1] == kind)


class TimerCommands:
    """Mixed into :class:`~lienthong.engine.Engine`."""

    # -- supplements (Decree 118/2025 Art 19(5)) ----------------------------------------------
    def request_supplement(
        self: Engine,
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
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if d.status not in (Status.PROCESSING, Status.ACCEPTED):
                raise SlaError(f"dossier {dossier} is {d.status.label}: no supplement request now")
            o = self.org.officer(officer)
            steps = [
                s for s in self._open_steps_of(db, dossier) if self.org.may_act_for(officer, s.unit)
            ]
            if not steps:
                raise NotAllowed(f"officer {officer} has no open step in dossier {dossier}")
            unit = steps[0].unit
            now = self.clock.now()
            first = db.execute(
                "SELECT min(opened_at) FROM steps WHERE dossier = ? AND unit = ?", [dossier, unit]
            ).fetchone()[0]
            got = parse_instant(first) or now
            used = self.calendar.between(got, now)
            if used > self.supplement_window:
                raise SlaError(
                    f"dossier {dossier}: unit {unit} received it {used} working minutes ago; a "
                    f"supplement may be requested only within {self.supplement_window} "
                    "(Decree 118/2025 Art 19(5))"
                )
            asked = db.execute(
                "SELECT count(*) FROM audit WHERE dossier = ? AND "
                "event = 'supplement_requested' AND from_unit = ?",
                [dossier, unit],
            ).fetchone()[0]
            if asked >= self.supplements_per_unit:
                raise SlaError(
                    f"dossier {dossier}: unit {unit} already asked for a supplement "
                    f"(at most {self.supplements_per_unit} per unit)"
                )
            close_at = now + timedelta(days=sla.SUPPLEMENT_CLOSE_DAYS)
            store.update(
                db,
                "dossiers",
                "code",
                dossier,
                {
                    "status": int(Status.SUPPLEMENT_REQUESTED),
                    "supplements": d.supplements + 1,
                    "supplement_requested_at": _iso(now),
                    "supplement_close_at": _iso(close_at),
                },
            )
            request = {
                "missing": list(missing),
                "reason": reason,
                "officer": officer,
                "unit": unit,
                "requested_at": _iso(now),
            }
            self._audit(
                db,
                dossier=dossier,
                event="supplement_requested",
                at=_iso(now),
                from_unit=unit,
                from_officer=o.id,
                to_officer="Người nộp hồ sơ",
                note=reason,
                data=request,
            )
            out = self._dossier(db, dossier)
            self.hooks.call(
                "supplement_requested", dossier=out, request=request, db=db, _dossier=dossier
            )
            return out

    def receive_supplement(
        self: Engine,
        dossier: str,
        *,
        officer: str | None = None,
        documents: Sequence[str] = (),
    ) -> Dossier:
        """The complete supplement arrived: back to status 4, and the legal deadline restarts in
        full from now; open steps get their whole share again from now."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if d.status != Status.SUPPLEMENT_REQUESTED:
                raise SlaError(
                    f"dossier {dossier} is not waiting for a supplement ({d.status.label})"
                )
            now = self.clock.now()
            proc = self.procedure(d.procedure_version)
            asked = (
                parse_instant(
                    db.execute(
                        "SELECT supplement_requested_at FROM dossiers WHERE code = ?", [dossier]
                    ).fetchone()[0]
                )
                or now
            )
            appointment = sla.appointment(proc, now, self.calendar)
            store.update(
                db,
                "dossiers",
                "code",
                dossier,
                {
                    "status": int(Status.PROCESSING),
                    "appointment": _iso(appointment),
                    "apology_at": _iso(self._apology_at(appointment)),
                    "apology_fired": 0,
                    "supplement_close_at": None,
                    "clock_start": _iso(self.calendar.next_working_instant(now)),
                    "kpi_waiting_minutes": d.kpi_waiting_minutes
                    + self.calendar.between(asked, now),
                },
            )
            for s in self._open_steps_of(db, dossier):
                self._retime_step(db, s, now, s.share_minutes, appointment)
            self._audit(
                db,
                dossier=dossier,
                event="supplement_received",
                at=_iso(now),
                from_officer="Người nộp hồ sơ",
                to_unit=d.receiving_unit,
                to_officer=officer,
                due_at=_iso(appointment),
                note="nhận đủ hồ sơ bổ sung; thời hạn tính lại từ đầu",
                data={"documents": list(documents)},
            )
            out = self._dossier(db, dossier)
            self.hooks.call("supplement_received", dossier=out, at=now, db=db, _dossier=dossier)
            return out

    # -- financial obligation (status 6): a pause ----------------------------------------------
    def start_obligation(self: Engine, dossier: str, *, officer: str, note: str = "") -> Dossier:
        """The applicant must pay a financial obligation (nghĩa vụ tài chính): the clock pauses."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if d.status != Status.PROCESSING:
                raise SlaError(f"dossier {dossier} is {d.status.label}: cannot pause it now")
            self.org.officer(officer)
            now = self.clock.now()
            store.update(
                db,
                "dossiers",
                "code",
                dossier,
                {"status": int(Status.FINANCIAL_OBLIGATION), "paused_since": _iso(now)},
            )
            self._audit(
                db,
                dossier=dossier,
                event="obligation_started",
                at=_iso(now),
                from_officer=officer,
                to_officer="Người nộp hồ sơ",
                note=note or "chờ thực hiện nghĩa vụ tài chính",
            )
            return self._dossier(db, dossier)

    def end_obligation(self: Engine, dossier: str, *, officer: str | None = None) -> Dossier:
        """The obligation is paid: every due instant shifts by the working time the pause lasted."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if d.status != Status.FINANCIAL_OBLIGATION or d.paused_since is None:
                raise SlaError(f"dossier {dossier} is not paused for a financial obligation")
            now = self.clock.now()
            p = self.calendar.between(d.paused_since, now)
            appointment = self.calendar.add_minutes(d.appointment, p) if d.appointment else None
            store.update(
                db,
                "dossiers",
                "code",
                dossier,
                {
                    "status": int(Status.PROCESSING),
                    "paused_since": None,
                    "paused_minutes": d.paused_minutes + p,
                    "kpi_waiting_minutes": d.kpi_waiting_minutes + p,
                    "appointment": _iso(appointment),
                    "apology_at": _iso(self._apology_at(appointment))
                    if not d.apology_issued_at
                    else None,
                },
            )
            for s in self._open_steps_of(db, dossier):
                shift = {}
                for col in ("due_at", "warn_at", "next_escalation_at"):
                    old = getattr(s, col)
                    if old is not None:
                        shift[col] = _iso(self.calendar.add_minutes(old, p))
                if shift:
                    store.update(db, "steps", "id", s.id, shift)
            self._audit(
                db,
                dossier=dossier,
                event="obligation_ended",
                at=_iso(now),
                from_officer="Người nộp hồ sơ",
                to_officer=officer,
                due_at=_iso(appointment),
                note=f"tạm dừng {p} phút làm việc",
                data={"paused_minutes": p},
            )
            return self._dossier(db, dossier)

    # -- the apology and new appointment (Art 19(6), Mẫu 04) -----------------------------------
    def apologise(
        self: Engine,
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
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if d.apology_issued_at is not None:
                raise SlaError(
                    f"dossier {dossier}: an apology with a new appointment was already issued on "
                    f"{d.apology_issued_at.isoformat()}; the appointment may be reset only once "
                    "(Decree 118/2025 Art 19(6))"
                )
            units = {s.unit for s in self._open_steps_of(db, dossier)}
            heads = {u: self.org.unit(u) for u in units}
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
            now = self.clock.now()
            late = d.apology_at is not None and now > d.apology_at
            store.update(
                db,
                "dossiers",
                "code",
                dossier,
                {
                    "appointment": _iso(new_appointment),
                    "apology_issued_at": _iso(now),
                    "apology_at": None,
                    "apology_fired": 1,
                },
            )
            self._audit(
                db,
                dossier=dossier,
                event="apology",
                at=_iso(now),
                from_unit=signer_units[0],
                from_officer=officer,
                to_officer="Người nộp hồ sơ",
                due_at=_iso(new_appointment),
                note=reason + (" (muộn hơn 1 ngày làm việc trước hạn)" if late else ""),
                data={
                    "reason": reason,
                    "old_appointment": _iso(d.appointment),
                    "new_appointment": _iso(new_appointment),
                },
            )
            out = self._dossier(db, dossier)
            self.hooks.call(
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

    # -- tick ----------------------------------------------------------------------------------
    def tick(self: Engine, now: datetime | None = None) -> TickReport:
        """Act on every warning, escalation, apology reminder and supplement expiry due by ``now``.

        Idempotent; after a long gap each action fires once, in order, stamped with its instant.
        """
        now = now or self.clock.now()
        stamp = _iso(now)
        done: list[tuple[datetime, str, str, int | None]] = []
        while True:
            due = self._due_actions(stamp)
            if not due:
                return TickReport(tuple(done))
            for at, kind, key in due:
                fired = getattr(self, f"_fire_{kind}")(key, at)
                if fired:
                    done.extend(fired)

    def _due_actions(self: Engine, stamp: str | None) -> list[tuple[str, str, Any]]:
        db = self.db
        out: list[tuple[str, str, Any]] = []
        paused = ",".join(str(s) for s in PAUSED)
        for r in db.execute(
            "SELECT s.warn_at, s.id FROM steps s JOIN dossiers d ON d.code = s.dossier "
            f"WHERE s.closed_at IS NULL AND s.warn_at <= ? AND d.status NOT IN ({paused})",
            [stamp],
        ):
            out.append((r[0], "warning", r[1]))
        for r in db.execute(
            "SELECT s.next_escalation_at, s.id FROM steps s JOIN dossiers d ON d.code = s.dossier "
            "WHERE s.closed_at IS NULL AND s.next_escalation_at <= ? "
            f"AND d.status NOT IN ({paused})",
            [stamp],
        ):
            out.append((r[0], "escalation", r[1]))
        for r in db.execute(
            "SELECT apology_at, code FROM dossiers WHERE closed_at IS NULL AND apology_fired = 0 "
            f"AND apology_at <= ? AND status NOT IN ({paused})",
            [stamp],
        ):
            out.append((r[0], "apology_required", r[1]))
        for r in db.execute(
            "SELECT supplement_close_at, code FROM dossiers WHERE closed_at IS NULL "
            "AND supplement_close_at <= ?",
            [stamp],
        ):
            out.append((r[0], "supplement_expired", r[1]))
        out.sort(key=lambda a: (a[0], a[1], str(a[2])))
        return out

    def _fire_warning(self: Engine, step_id: int, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        with self._command() as db:
            s = self._step(db, step_id)
            if s.closed_at is not None or s.warn_at is None or _iso(s.warn_at) != at_text:
                return []
            store.update(db, "steps", "id", step_id, {"warn_at": None})
            d = self._dossier(db, s.dossier)
            self._audit(
                db,
                dossier=s.dossier,
                event="warning",
                at=at_text,
                from_unit=s.unit,
                to_unit=s.unit,
                to_officer=s.assignee,
                step_id=s.id,
                share_minutes=s.share_minutes,
                due_at=_iso(s.due_at),
                note=f"sắp đến hạn: {s.name}",
            )
            self.hooks.call(
                "step_warning",
                dossier=d,
                step=self._step(db, step_id),
                at=at,
                db=db,
                _dossier=s.dossier,
            )
        return [(at, "warning", s.dossier, step_id)]

    def _fire_escalation(self: Engine, step_id: int, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        fired: list[Any] = []
        with self._command() as db:
            s = self._step(db, step_id)
            if s.closed_at is not None or _iso(s.next_escalation_at) != at_text:
                return []
            d = self._dossier(db, s.dossier)
            level = s.escalation_level + 1
            chain = [s.unit, *self.org.ancestors(s.unit)]
            unit = self.org.unit(chain[level - 1])
            head = self.org.officers.get(unit.head) if unit.head else None
            nxt = (
                self.calendar.add_minutes(at, self.calendar.minutes_per_day)
                if level < len(chain)
                else None
            )
            store.update(
                db,
                "steps",
                "id",
                step_id,
                {
                    "escalation_level": level,
                    "escalated_to": head.id if head else s.escalated_to,
                    "next_escalation_at": _iso(nxt),
                },
            )
            if level == 1:
                self._audit(
                    db,
                    dossier=d.code,
                    event="overdue",
                    at=at_text,
                    from_unit=s.unit,
                    step_id=s.id,
                    share_minutes=s.share_minutes,
                    due_at=_iso(s.due_at),
                    note=f"quá hạn: {s.name}",
                )
                self.hooks.call("step_overdue", dossier=d, step=s, at=at, db=db, _dossier=d.code)
            step = self._step(db, step_id)
            self._audit(
                db,
                dossier=d.code,
                event="escalated",
                at=at_text,
                from_unit=s.unit,
                to_unit=unit.code,
                to_officer=head.id if head else None,
                step_id=s.id,
                share_minutes=s.share_minutes,
                due_at=_iso(s.due_at),
                note=f"chuyển lên cấp {level}: {unit.name}",
                data={"level": level},
            )
            self.hooks.call(
                "step_escalated",
                dossier=d,
                step=step,
                level=level,
                unit=unit,
                head=head,
                at=at,
                db=db,
                _dossier=d.code,
            )
            fired.append((at, "escalated", d.code, step_id))
            proc = self.procedure(d.procedure_version)
            lane_role = proc.steps[s.spec_id].role
            coordinating = any(
                lane.coordinating and lane.role == lane_role for lane in proc.lanes.values()
            )
            if level == 1 and coordinating:
                desk = self.org.unit(d.receiving_unit)
                desk_head = self.org.officers.get(desk.head) if desk.head else None
                self._audit(
                    db,
                    dossier=d.code,
                    event="escalated",
                    at=at_text,
                    from_unit=s.unit,
                    to_unit=desk.code,
                    to_officer=desk_head.id if desk_head else None,
                    step_id=s.id,
                    due_at=_iso(s.due_at),
                    note="cơ quan phối hợp trả lời muộn: báo cáo người đứng đầu "
                    "Bộ phận Một cửa (Art 19(4)(c))",
                    data={"level": level, "one_stop_desk": True},
                )
                self.hooks.call(
                    "step_escalated",
                    dossier=d,
                    step=step,
                    level=level,
                    unit=desk,
                    head=desk_head,
                    at=at,
                    db=db,
                    _dossier=d.code,
                )
        return fired

    def _fire_apology_required(self: Engine, code: str, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        with self._command() as db:
            d = self._dossier(db, code)
            if d.is_closed or d.apology_issued_at is not None:
                store.update(db, "dossiers", "code", code, {"apology_fired": 1})
                return []
            store.update(db, "dossiers", "code", code, {"apology_fired": 1})
            steps = [s for s in self._open_steps_of(db, code) if s.step_kind != "return"]
            if not steps:  # the work is done; only the hand-over is left
                return []
            unit = self.org.unit(steps[0].unit)
            head = self.org.officers.get(unit.head) if unit.head else None
            self._audit(
                db,
                dossier=code,
                event="apology_required",
                at=at_text,
                from_unit=unit.code,
                to_officer=head.id if head else None,
                due_at=_iso(d.appointment),
                note="còn 1 ngày làm việc: cần văn bản xin lỗi và hẹn lại (Mẫu 04)",
            )
            self.hooks.call(
                "apology_required", dossier=d, unit=unit, head=head, at=at, db=db, _dossier=code
            )
        return [(at, "apology_required", code, None)]

    def _fire_supplement_expired(self: Engine, code: str, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        with self._command(code) as db:
            d = self._dossier(db, code)
            if d.is_closed or d.status != Status.SUPPLEMENT_REQUESTED:
                store.update(db, "dossiers", "code", code, {"supplement_close_at": None})
                return []
            wf = self._workflow(db, d)
            wf.cancel()
            db.execute(
                "UPDATE steps SET status = 'cancelled', closed_at = ? WHERE dossier = ? "
                "AND closed_at IS NULL",
                [at_text, code],
            )
            store.update(
                db,
                "dossiers",
                "code",
                code,
                {
                    "status": int(Status.STOPPED),
                    "closed_at": at_text,
                    "supplement_close_at": None,
                    "note": "không bổ sung hồ sơ trong 15 ngày",
                },
            )
            self._audit(
                db,
                dossier=code,
                event="supplement_expired",
                at=at_text,
                to_unit=d.receiving_unit,
                note="quá 15 ngày không bổ sung: dừng giải quyết hồ sơ",
            )
            self._save(db, code, wf)
        return [(at, "supplement_expired", code, None)]

    # -- helpers -------------------------------------------------------------------------------
    def _open_steps_of(self: Engine, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        return [
            Step.from_row(r)
            for r in store.rows(
                db,
                "SELECT * FROM steps WHERE dossier = ? AND closed_at IS NULL ORDER BY id",
                [dossier],
            )
        ]

    def _retime_step(
        self: Engine,
        db: sqlite_utils.Database,
        s: Step,
        start: datetime,
        share: int,
        appointment: datetime | None,
    ) -> None:
        due = sla.step_due(start, share, self.calendar) if share > 0 else appointment
        store.update(
            db,
            "steps",
            "id",
            s.id,
            {
                "due_at": _iso(due),
                "warn_at": _iso(sla.warn_at(start, share, self.calendar)),
                "next_escalation_at": _iso(due),
                "escalation_level": 0,
                "escalated_to": None,
            },
        )
