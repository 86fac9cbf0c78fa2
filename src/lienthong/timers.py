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

import heapq
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import sqlite_utils

from . import audit, sla, store
from .errors import InvalidData, NotAllowed, SlaError
from .records import Dossier, Step, parse_instant
from .status import Status

if TYPE_CHECKING:
    from .engine import Engine

PAUSED = (int(Status.SUPPLEMENT_REQUESTED), int(Status.FINANCIAL_OBLIGATION))
#: How many tick actions share one commit (each is still atomic on its own).
TICK_BATCH = 5000
#: Hooks that observe a warning or an escalation: with none implemented, the tick works set-wise.
_STEP_HOOKS = ("step_warning", "step_overdue", "step_escalated", "audit_event")
_STEP_KINDS = ("warning", "escalation")
_PAUSED_SQL = ",".join(str(s) for s in PAUSED)
#: What tick looks for, each through its own index: (kind, query of (instant, key) due by ?).
#: A paused dossier (supplement, financial obligation) has nothing due but its supplement expiry.
_DUE_QUERIES = (
    (
        "warning",
        "SELECT s.warn_at, s.id FROM steps s JOIN dossiers d ON d.code = s.dossier "
        f"WHERE s.closed_at IS NULL AND s.warn_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "escalation",
        "SELECT s.next_escalation_at, s.id FROM steps s "
        "JOIN dossiers d ON d.code = s.dossier WHERE s.closed_at IS NULL "
        f"AND s.next_escalation_at <= ? AND d.status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "apology_required",
        "SELECT apology_at, code FROM dossiers WHERE closed_at IS NULL "
        f"AND apology_fired = 0 AND apology_at <= ? AND status NOT IN ({_PAUSED_SQL})",
    ),
    (
        "supplement_expired",
        "SELECT supplement_close_at, code FROM dossiers "
        "WHERE closed_at IS NULL AND supplement_close_at <= ?",
    ),
)
#: The columns a warning or an escalation reads: the step, and two of its dossier's.
_STEP_SELECT = (
    "SELECT s.id, s.dossier, s.unit, s.name, s.spec_id, s.assignee, s.share_minutes, s.due_at, "
    "s.warn_at, s.escalation_level, s.escalated_to, s.next_escalation_at, s.closed_at, "
    "d.procedure_version AS d_version, d.receiving_unit AS d_unit "
    "FROM steps s JOIN dossiers d ON d.code = s.dossier"
)


@attrs.frozen
class _Plan:
    """What one warning or escalation writes (see ``TimerCommands._plan_step_action``)."""

    updates: dict[str, Any]
    entries: list[tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]]
    fired: tuple[datetime, str, str, int | None]
    follow: str | None


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
            # Sector law may set another window than the decree's 3 working days.
            window = self.procedure(d.procedure_version).supplement_window_minutes
            window = self.supplement_window if window is None else window
            if used > window:
                raise SlaError(
                    f"dossier {dossier}: unit {unit} received it {used} working minutes ago; a "
                    f"supplement may be requested only within {window} "
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

            def shift(t: datetime | None, minutes: int) -> datetime | None:
                # add_minutes(t, 0) is next_working_instant(t): 17:00 would become 08:00.
                return t if t is None or minutes == 0 else self.calendar.add_minutes(t, minutes)

            appointment = shift(d.appointment, p)
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
                # A step opened during the pause lived through only the rest of it.
                lived = (
                    p if s.opened_at <= d.paused_since else self.calendar.between(s.opened_at, now)
                )
                moved = {
                    col: _iso(shift(getattr(s, col), lived))
                    for col in ("due_at", "warn_at", "next_escalation_at")
                    if getattr(s, col) is not None
                }
                if moved and lived:
                    store.update(db, "steps", "id", s.id, moved)
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

        Idempotent; after a long gap each action fires once, in order of the instant it fell due
        (a step's next escalation level joins the queue in its place), stamped with that
        instant. Up to :data:`TICK_BATCH` actions share one commit. Each action is atomic: an
        action that raises is undone alone, the ones before it are committed, then the error
        propagates. Warnings and escalations that no plugin observes (no ``step_warning``,
        ``step_overdue``, ``step_escalated`` or ``audit_event`` implementation) are applied
        set-wise, a run of them with a few statements.
        """
        now = now or self.clock.now()
        stamp = _iso(now)
        assert stamp is not None
        done: list[tuple[datetime, str, str, int | None]] = []
        queue = self._due_actions(stamp)
        heapq.heapify(queue)  # (instant, kind, step id or dossier code): instants in order
        fast = not any(self.hooks.has(h) for h in _STEP_HOOKS)
        day = self.calendar.minutes_per_day
        while queue:
            failure: BaseException | None = None
            with self._command() as db:
                budget = TICK_BATCH
                while queue and budget > 0:
                    at, kind, key = queue[0]
                    if fast and kind in _STEP_KINDS:
                        # A run of them, all before the first one's next level could fall due,
                        # so that follow-up levels stay in order.
                        limit = _iso(self.calendar.add_minutes(datetime.fromisoformat(at), day))
                        assert limit is not None
                        run: list[tuple[str, str, Any]] = []
                        while (
                            queue
                            and len(run) < budget
                            and queue[0][1] in _STEP_KINDS
                            and queue[0][0] < limit
                        ):
                            run.append(heapq.heappop(queue))
                        budget -= len(run)
                        fired, follow = self._fire_steps(db, run, stamp)
                        done.extend(fired)
                        for item in follow:
                            heapq.heappush(queue, item)
                        continue
                    heapq.heappop(queue)
                    budget -= 1
                    try:
                        fired = getattr(self, f"_fire_{kind}")(key, at)
                    except Exception as e:  # its savepoint is rolled back; keep the others
                        failure = e
                        break
                    done.extend(fired)
                    if kind == "escalation" and fired:
                        row = db.execute(
                            "SELECT next_escalation_at FROM steps WHERE id = ? "
                            "AND closed_at IS NULL",
                            [key],
                        ).fetchone()
                        if row is not None and row[0] is not None and row[0] <= stamp:
                            heapq.heappush(queue, (row[0], kind, key))
            if failure is not None:
                raise failure
        return TickReport(tuple(done))

    def _fire_steps(
        self: Engine,
        db: sqlite_utils.Database,
        run: list[tuple[str, str, Any]],
        stamp: str,
    ) -> tuple[list[Any], list[tuple[str, str, Any]]]:
        """Warnings and escalations no plugin observes, in order, with one SELECT, one UPDATE per
        action (executemany) and one INSERT of the audit rows: the rows that
        :meth:`_plan_step_action` plans, the same as the one-at-a-time path writes."""
        ids = sorted({key for _, _, key in run})
        marks = ",".join("?" * len(ids))
        rows = {r["id"]: r for r in store.rows(db, f"{_STEP_SELECT} WHERE s.id IN ({marks})", ids)}
        fired: list[Any] = []
        follow: list[tuple[str, str, Any]] = []
        updates: list[tuple[Any, ...]] = []
        audit_rows: list[dict[str, Any]] = []
        for at_text, kind, step_id in run:
            r = rows.get(step_id)
            if r is None:
                continue
            plan = self._plan_step_action(r, kind, at_text)
            if plan is None:
                continue
            r.update(plan.updates)  # a later action on the same step sees this one
            updates.append(
                (
                    r["warn_at"],
                    r["escalation_level"],
                    r["escalated_to"],
                    r["next_escalation_at"],
                    step_id,
                )
            )
            audit_rows.extend(row for row, _hook in plan.entries)
            fired.append(plan.fired)
            if plan.follow is not None and plan.follow <= stamp:
                follow.append((plan.follow, "escalation", step_id))
        db.conn.executemany(
            "UPDATE steps SET warn_at = ?, escalation_level = ?, escalated_to = ?, "
            "next_escalation_at = ? WHERE id = ?",
            updates,
        )
        audit.append_many(db, audit_rows)
        return fired, follow

    def _plan_step_action(self: Engine, r: dict[str, Any], kind: str, at_text: str) -> _Plan | None:
        """What a warning or an escalation of the step row ``r`` (as :data:`_STEP_SELECT`
        reads it) writes: the step's new columns, the audit rows in order, each with the hook
        to call after it. ``None`` when the step is closed or the action already happened."""
        if r["closed_at"] is not None:
            return None
        at = datetime.fromisoformat(at_text)
        code, step_unit = r["dossier"], r["unit"]
        base = {
            "dossier": code,
            "at": at_text,
            "from_unit": step_unit,
            "step_id": r["id"],
            "due_at": r["due_at"],
        }
        if kind == "warning":
            if r["warn_at"] != at_text:
                return None
            row = {
                **base,
                "event": "warning",
                "to_unit": step_unit,
                "to_officer": r["assignee"],
                "share_minutes": r["share_minutes"],
                "note": f"sắp đến hạn: {r['name']}",
            }
            return _Plan(
                {"warn_at": None},
                [(row, ("step_warning", {}))],
                (at, "warning", code, r["id"]),
                None,
            )
        if r["next_escalation_at"] != at_text:
            return None
        level = (r["escalation_level"] or 0) + 1
        chain = [step_unit, *self.org.ancestors(step_unit)]
        unit = self.org.unit(chain[level - 1])
        head = self.org.officers.get(unit.head) if unit.head else None
        nxt = (
            _iso(self.calendar.add_minutes(at, self.calendar.minutes_per_day))
            if level < len(chain)
            else None
        )
        updates = {
            "escalation_level": level,
            "escalated_to": head.id if head else r["escalated_to"],
            "next_escalation_at": nxt,
        }
        entries: list[tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]] = []
        if level == 1:
            entries.append(
                (
                    {
                        **base,
                        "event": "overdue",
                        "share_minutes": r["share_minutes"],
                        "note": f"quá hạn: {r['name']}",
                    },
                    ("step_overdue", {}),
                )
            )
        entries.append(
            (
                {
                    **base,
                    "event": "escalated",
                    "to_unit": unit.code,
                    "to_officer": head.id if head else None,
                    "share_minutes": r["share_minutes"],
                    "note": f"chuyển lên cấp {level}: {unit.name}",
                    "data": {"level": level},
                },
                ("step_escalated", {"level": level, "unit": unit, "head": head}),
            )
        )
        if level == 1 and self._coordinating(r["d_version"], r["spec_id"]):
            desk = self.org.unit(r["d_unit"])
            desk_head = self.org.officers.get(desk.head) if desk.head else None
            entries.append(
                (
                    {
                        **base,
                        "event": "escalated",
                        "to_unit": desk.code,
                        "to_officer": desk_head.id if desk_head else None,
                        "note": "cơ quan phối hợp trả lời muộn: báo cáo người đứng đầu "
                        "Bộ phận Một cửa (Art 19(4)(c))",
                        "data": {"level": level, "one_stop_desk": True},
                    },
                    ("step_escalated", {"level": level, "unit": desk, "head": desk_head}),
                )
            )
        return _Plan(updates, entries, (at, "escalated", code, r["id"]), nxt)

    def _fire_one(self: Engine, step_id: int, kind: str, at_text: str) -> list[Any]:
        """One warning or escalation in its own savepoint, with its hook calls."""
        with self._command() as db:
            rows = store.rows(db, f"{_STEP_SELECT} WHERE s.id = ?", [step_id])
            plan = self._plan_step_action(rows[0], kind, at_text) if rows else None
            if plan is None:
                return []
            r = rows[0]
            store.update(db, "steps", "id", step_id, plan.updates)
            d: Dossier | None = None
            step: Step | None = None
            for row, hook in plan.entries:
                self._audit(db, **row)
                if hook is None:
                    continue
                name, extra = hook
                if not self.hooks.has(name):
                    continue
                if d is None:  # records only for plugins that will see them
                    d = self._dossier(db, r["dossier"])
                    step = self._step(db, step_id)
                self.hooks.call(
                    name,
                    dossier=d,
                    step=step,
                    at=plan.fired[0],
                    db=db,
                    _dossier=r["dossier"],
                    **extra,
                )
        return [plan.fired]

    def _coordinating(self: Engine, version: str, spec_id: str) -> bool:
        proc = self.procedure(version)
        role = proc.steps[spec_id].role
        return any(lane.coordinating and lane.role == role for lane in proc.lanes.values())

    def _due_actions(self: Engine, stamp: str | None) -> list[tuple[str, str, Any]]:
        out: list[tuple[str, str, Any]] = []
        for kind, sql in _DUE_QUERIES:
            out.extend((at, kind, key) for at, key in self.db.execute(sql, [stamp]))
        out.sort(key=lambda a: (a[0], a[1], str(a[2])))
        return out

    def _fire_warning(self: Engine, step_id: int, at_text: str) -> list[Any]:
        return self._fire_one(step_id, "warning", at_text)

    def _fire_escalation(self: Engine, step_id: int, at_text: str) -> list[Any]:
        return self._fire_one(step_id, "escalation", at_text)

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
            store.update(db, "dossiers", "code", code, {"supplement_close_at": None})
            self._close_early(
                db,
                d,
                Status.STOPPED,
                at,
                "không bổ sung hồ sơ trong 15 ngày: dừng giải quyết",
                event="supplement_expired",
                to_unit=d.receiving_unit,
            )
        return [(at, "supplement_expired", code, None)]

    # -- helpers -------------------------------------------------------------------------------
    def _open_steps_of(self: Engine, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        return self._step_records(
            db, "SELECT * FROM steps WHERE dossier = ? AND closed_at IS NULL ORDER BY id", [dossier]
        )

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
