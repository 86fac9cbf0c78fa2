"""The SLA timers: ``tick(now)`` acts on every warning, escalation, apology reminder and
supplement expiry due by ``now``.

It finds what has fallen due through indexed columns (:mod:`lienthong.store.due`) without
loading any workflow, and acts on each item in its own savepoint, stamped with the instant it
fell due, in order. Each action moves its own index column past ``now``, so a second tick at the
same instant finds nothing.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

import attrs
import sqlite_utils

from lienthong.engine import accountability
from lienthong.engine.context import Context, iso
from lienthong.engine.progress import Progress
from lienthong.legaltime.clock import VN_TZ
from lienthong.status import Status
from lienthong.store import audit, batch, due, tables
from lienthong.store.records import Dossier, Step

#: How many tick actions share one commit (each is still atomic on its own).
TICK_BATCH = 5000
#: The same where several processes write at once (PostgreSQL): smaller, so that ticks running
#: side by side each take a share of the due work (each batch locks its dossiers).
TICK_BATCH_SHARED = 500
#: Hooks that observe a warning or an escalation: with none implemented, the tick works set-wise.
_STEP_HOOKS = ("step_warning", "step_overdue", "step_escalated", "audit_event")
_STEP_KINDS = ("warning", "escalation")


@attrs.frozen
class _Plan:
    """What one warning or escalation writes (see ``TickCommands._plan_step_action``)."""

    updates: dict[str, Any]
    entries: list[tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]]
    fired: tuple[datetime, str, str, int | None]
    follow: str | None


@attrs.frozen
class TickReport:
    """What one tick did: each action as (instant it fell due, kind, dossier, step id)."""

    actions: tuple[tuple[datetime, str, str, int | None], ...]

    def count(self, kind: str) -> int:
        """How many actions of one kind (warning, escalated, apology_required, ...)."""
        return sum(1 for a in self.actions if a[1] == kind)


class TickCommands:
    """The SLA timers: warnings, escalations, apology reminders, supplement expiries."""

    def __init__(self, ctx: Context, progress: Progress) -> None:
        self.ctx = ctx
        self.progress = progress

    def tick(self, now: datetime | None = None) -> TickReport:
        """Act on every warning, escalation, apology reminder and supplement expiry due by ``now``.

        Idempotent; after a long gap each action fires once, in order of the instant it fell due
        (a step's next escalation level joins the queue in its place), stamped with that
        instant. Up to :data:`TICK_BATCH` actions share one commit. Each action is atomic: an
        action that raises is undone alone, the ones before it are committed, then the error
        propagates. Warnings and escalations that no plugin observes (no ``step_warning``,
        ``step_overdue``, ``step_escalated`` or ``audit_event`` implementation) are applied
        set-wise, a run of them with a few statements.

        Ticks may run at once, in several processes or on several servers: on SQLite they take
        turns under the write lock; on PostgreSQL each batch locks the rows of its dossiers
        (``FOR UPDATE SKIP LOCKED``) and the ticks share the due work. Either way each action
        fires once, and the report lists the ones this tick fired.
        """
        now = now or self.ctx.clock.now()
        stamp = iso(now)
        assert stamp is not None
        done: list[tuple[datetime, str, str, int | None]] = []
        fast = not any(self.ctx.hooks.has(h) for h in _STEP_HOOKS)
        # Where several processes write at once, a pass leaves what another transaction
        # holds. Then wait for the first dossier still due (its holder commits, or dies and the
        # server lets go), act on it, and take anew what is still due: so that when tick()
        # returns everything due by ``now`` has been done by someone, while ticks side by side
        # never wait for one another holding a batch of locks.
        left = self._pass(stamp, fast, done, wait=False)
        while left:
            self._pass(stamp, fast, done, wait=True)
            left = self._pass(stamp, fast, done, wait=False)
        return TickReport(tuple(done))

    def _pass(
        self,
        stamp: str,
        fast: bool,
        done: list[tuple[datetime, str, str, int | None]],
        *,
        wait: bool,
    ) -> bool:
        """Act on what is due by ``stamp``, batch by batch; whether some of it was left
        because another transaction held its dossier (never on SQLite). ``wait``: only the
        actions of the first dossier due, waiting for its lock."""
        queue = due.due_actions(self.ctx.db, stamp)
        heapq.heapify(queue)  # (instant, kind, step id or dossier code, dossier): in order
        day = self.ctx.calendar.minutes_per_day
        window = TICK_BATCH_SHARED if due.row_locks(self.ctx.db) else TICK_BATCH
        if wait and queue:
            window = 1
            first = queue[0][3]
            queue = [a for a in queue if a[3] == first]
            heapq.heapify(queue)
        left = False
        while queue:
            failure: BaseException | None = None
            with self.ctx.command() as db:
                # The dossiers of this batch's actions, locked where several processes write
                # at once: an action on a dossier another transaction holds is left to it (or
                # to the wait after this pass); the batch ends at the first action of a
                # dossier it does not hold (on SQLite it holds them all).
                ahead = heapq.nsmallest(window, queue)
                held = due.lock_dossiers(db, (a[3] for a in ahead), wait=wait)
                if len(held) < len({a[3] for a in ahead}):
                    left = True
                    queue = [a for a in queue if a[3] in held or a > ahead[-1]]
                    heapq.heapify(queue)
                budget = window
                while queue and budget > 0:
                    at, kind, key, code = queue[0]
                    if code not in held:
                        break
                    if fast and kind in _STEP_KINDS:
                        # A run of them, all before the first one's next level could fall due,
                        # so that follow-up levels stay in order.
                        limit = iso(self.ctx.calendar.add_minutes(datetime.fromisoformat(at), day))
                        assert limit is not None
                        run: list[tuple[str, str, Any, str]] = []
                        while (
                            queue
                            and len(run) < budget
                            and queue[0][1] in _STEP_KINDS
                            and queue[0][0] < limit
                            and queue[0][3] in held
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
                        nxt = due.next_escalation(db, key)
                        if nxt is not None and nxt <= stamp:
                            heapq.heappush(queue, (nxt, kind, key, code))
            if failure is not None:
                raise failure
        return left

    def _fire_steps(
        self,
        db: sqlite_utils.Database,
        run: list[tuple[str, str, Any, str]],
        stamp: str,
    ) -> tuple[list[Any], list[tuple[str, str, Any, str]]]:
        """Warnings and escalations no plugin observes, in order, with one SELECT, one UPDATE per
        action (executemany) and one INSERT of the audit rows: the rows that
        :meth:`_plan_step_action` plans, the same as the one-at-a-time path writes."""
        rows = due.timer_rows(db, sorted({a[2] for a in run}), with_digests=True)
        # Each audit row vouches for its dossier as it stood after its own action.
        states = batch.Batch(db, rows)
        fired: list[Any] = []
        follow: list[tuple[str, str, Any, str]] = []
        updates: list[tuple[Any, ...]] = []
        audit_rows: list[dict[str, Any]] = []
        for at_text, kind, step_id, _code in run:
            r = rows.get(step_id)
            if r is None:
                continue
            plan = self._plan_step_action(r, kind, at_text)
            if plan is None:
                continue
            r.update(plan.updates)  # a later action on the same step sees this one
            state = states.apply(step_id, plan.updates)
            updates.append(
                (
                    r["warn_at"],
                    r["escalation_level"],
                    r["escalated_to"],
                    r["next_escalation_at"],
                    r["first_overdue_at"],
                    step_id,
                )
            )
            audit_rows.extend({**row, "state_digest": state} for row, _hook in plan.entries)
            fired.append(plan.fired)
            if plan.follow is not None and plan.follow <= stamp:
                follow.append((plan.follow, "escalation", step_id, r["dossier"]))
        due.set_timers_many(db, updates)
        audit.append_many(db, audit_rows)
        states.done()
        return fired, follow

    def _plan_step_action(self, r: dict[str, Any], kind: str, at_text: str) -> _Plan | None:
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
        chain = [step_unit, *self.ctx.org.ancestors(step_unit)]
        unit = self.ctx.org.unit(chain[level - 1])
        head = self.ctx.org.officers.get(unit.head) if unit.head else None
        nxt = (
            iso(self.ctx.calendar.add_minutes(at, self.ctx.calendar.minutes_per_day))
            if level < len(chain)
            else None
        )
        updates = {
            "escalation_level": level,
            "escalated_to": head.id if head else r["escalated_to"],
            "next_escalation_at": nxt,
        }
        if level == 1 and r["first_overdue_at"] is None:
            # The fact, kept for good: it went overdue at the due instant it missed, whenever
            # this tick runs and whatever later restarts its clock.
            updates["first_overdue_at"] = r["due_at"]
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
            desk = self.ctx.org.unit(r["d_unit"])
            desk_head = self.ctx.org.officers.get(desk.head) if desk.head else None
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

    def _fire_one(self, step_id: int, kind: str, at_text: str) -> list[Any]:
        """One warning or escalation in its own savepoint, with its hook calls."""
        with self.ctx.command() as db:
            r = due.timer_rows(db, [step_id]).get(step_id)
            plan = self._plan_step_action(r, kind, at_text) if r is not None else None
            if r is None or plan is None:
                return []
            tables.update_step(db, step_id, plan.updates)
            d: Dossier | None = None
            step: Step | None = None
            for row, hook in plan.entries:
                self.ctx.audit(db, **row)
                if hook is None:
                    continue
                name, extra = hook
                if not self.ctx.hooks.has(name):
                    continue
                if d is None:  # records only for plugins that will see them
                    d = self.ctx.dossier(db, r["dossier"])
                    step = self.ctx.step(db, step_id)
                self.ctx.hooks.call(
                    name,
                    dossier=d,
                    step=step,
                    at=plan.fired[0],
                    db=db,
                    _dossier=r["dossier"],
                    **extra,
                )
        return [plan.fired]

    def _coordinating(self, version: str, spec_id: str) -> bool:
        proc = self.ctx.procedure(version)
        role = proc.steps[spec_id].role
        return any(lane.coordinating and lane.role == role for lane in proc.lanes.values())

    def _fire_warning(self, step_id: int, at_text: str) -> list[Any]:
        return self._fire_one(step_id, "warning", at_text)

    def _fire_escalation(self, step_id: int, at_text: str) -> list[Any]:
        return self._fire_one(step_id, "escalation", at_text)

    def _fire_apology_required(self, code: str, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        with self.ctx.command() as db:
            if not due.apology_reminder_pending(db, code):
                return []  # another tick fired it after this one read what was due
            d = self.ctx.dossier(db, code)
            if d.is_closed or d.apology_issued_at is not None:
                tables.update_dossier(db, code, {"apology_fired": 1})
                return []
            tables.update_dossier(db, code, {"apology_fired": 1})
            steps = self.ctx.records.steps_of(db, code)
            if not any(s.is_open and s.step_kind != "return" for s in steps):
                return []  # the work is done; only the hand-over is left
            proc = self.ctx.procedure(d.procedure_version)
            # The reminder goes to the unit that must sign: the unit at fault (or the lead
            # agency, where the procedure says so), as apologise() will require.
            faults = accountability.apology_units(proc, d, steps, at)
            unit = self.ctx.org.unit(faults[0].unit)
            head = self.ctx.org.officers.get(unit.head) if unit.head else None
            self.ctx.audit(
                db,
                dossier=code,
                event="apology_required",
                at=at_text,
                from_unit=unit.code,
                to_unit=unit.code,
                to_officer=head.id if head else None,
                due_at=iso(d.appointment),
                note="cần văn bản xin lỗi và hẹn lại (Mẫu 04) chậm nhất "
                f"{_vn(d.apology_required_at)}, 1 ngày làm việc trước hạn",
                data={
                    "required_at": iso(d.apology_required_at),
                    "units_at_fault": [f.unit for f in faults],
                },
            )
            self.ctx.hooks.call(
                "apology_required", dossier=d, unit=unit, head=head, at=at, db=db, _dossier=code
            )
        return [(at, "apology_required", code, None)]

    def _fire_supplement_expired(self, code: str, at_text: str) -> list[Any]:
        at = datetime.fromisoformat(at_text)
        with self.ctx.command(code) as db:
            d = self.ctx.dossier(db, code)
            if d.is_closed or d.status != Status.SUPPLEMENT_REQUESTED:
                tables.update_dossier(db, code, {"supplement_close_at": None})
                return []
            tables.update_dossier(db, code, {"supplement_close_at": None})
            self.progress.close_early(
                db,
                d,
                Status.STOPPED,
                at,
                "không bổ sung hồ sơ trong 15 ngày: dừng giải quyết",
                event="supplement_expired",
                to_unit=d.receiving_unit,
            )
        return [(at, "supplement_expired", code, None)]


def _vn(t: datetime | None) -> str:
    """An instant as a Vietnamese notice writes it: ``16:30 ngày 04/02/2025``."""
    return t.astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y") if t is not None else "?"
