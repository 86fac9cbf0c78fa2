"""A dossier's progress drawn on the diagram of the procedure version it was received under
(``lienthong dossier diagram``, :meth:`Engine.dossier_diagram`).

Each task is coloured by the state of its steps as the store holds them (the step rows: their
``result_class``, ``due_at``, ``closed_at``, ``first_overdue_at``, ``late_minutes``), at an
instant: done early, on time or late; open; open and overdue; cancelled; or not reached yet.
A task that ran more than once (a step sent back, a loop) is coloured by its latest run and
says how many runs it had (``×2``); every run is in the task's tooltip. Read from the store
alone, never a workflow: the picture shows the facts the reports show.

The instant is the engine's clock unless one is given; a step opened after it does not count
yet, and one closed after it is still open then, so an earlier instant shows the dossier as it
stood at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
import sqlite_utils

from lienthong.bpmn.diagram import read_diagram
from lienthong.bpmn.render import LegendItem, Paint, days_text, render_svg, share_text
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ
from lienthong.status import ResultClass
from lienthong.store.records import Step
from lienthong.store.tables import Records

if TYPE_CHECKING:
    from lienthong.bpmn.procedures import Procedure

__all__ = ["STATES", "State", "TaskProgress", "dossier_diagram", "progress", "step_state"]

EARLY, ON_TIME, LATE = "early", "on_time", "late"
OPEN, OVERDUE, CANCELLED, NOT_REACHED = "open", "overdue", "cancelled", "not_reached"


@attrs.frozen
class State:
    """How one state of a task is drawn and named in the legend."""

    name: str
    label: str
    fill: str
    stroke: str
    dashed: bool = False


#: Every state, in the legend's order.
STATES: dict[str, State] = {
    s.name: s
    for s in (
        State(EARLY, "done early (trước hạn)", "#d4f0d0", "#2e7d32"),
        State(ON_TIME, "done on time (đúng hạn)", "#d6e6f8", "#1f5fa8"),
        State(LATE, "done late (quá hạn)", "#fbd3cd", "#c62828"),
        State(OPEN, "open (đang xử lý)", "#fff2c2", "#a86500"),
        State(OVERDUE, "open, overdue (đang xử lý, quá hạn)", "#f28b82", "#8e0000"),
        State(NOT_REACHED, "waiting, not reached (chưa đến)", "#ffffff", "#9aa0a6"),
        State(CANCELLED, "cancelled (đã hủy)", "#e8eaed", "#6f7378", dashed=True),
    )
}
_CLASSES = {ResultClass.EARLY: EARLY, ResultClass.ON_TIME: ON_TIME, ResultClass.LATE: LATE}


@attrs.frozen
class TaskProgress:
    """One task's runs (its steps that had opened at the instant, oldest first) and the state
    of the latest."""

    element: str
    state: str
    runs: tuple[Step, ...]


def step_state(step: Step, at: datetime) -> str | None:
    """The state of a step at ``at``: ``None`` if it had not opened yet."""
    if step.opened_at > at:
        return None
    if step.closed_at is not None and step.closed_at <= at:
        if step.status == "cancelled":
            return CANCELLED
        return _CLASSES.get(step.result_class or "", ON_TIME)
    overdue_since = step.first_overdue_at
    if (overdue_since is not None and overdue_since <= at) or (
        step.due_at is not None and at > step.due_at
    ):
        return OVERDUE
    return OPEN


def progress(steps: Iterable[Step], at: datetime) -> dict[str, TaskProgress]:
    """BPMN task id -> its progress at ``at``, for the tasks with a step opened by then."""
    runs: dict[str, list[tuple[Step, str]]] = {}
    for st in sorted(steps, key=lambda s: (s.opened_at, s.id)):
        state = step_state(st, at)
        if state is not None:
            runs.setdefault(st.spec_id, []).append((st, state))
    return {
        task: TaskProgress(task, found[-1][1], tuple(s for s, _ in found))
        for task, found in runs.items()
    }


def _when(t: datetime | None) -> str:
    return t.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if t is not None else "—"


def _short(t: datetime) -> str:
    return t.astimezone(VN_TZ).strftime("%H:%M %d/%m")


def late_minutes(st: Step, calendar: WorkingCalendar | None) -> int | None:
    """The working minutes a closed step was late by: the store's figure, or, for a step
    closed before the store kept it, counted on ``calendar`` (``None`` without one)."""
    if st.late_minutes is not None:
        return st.late_minutes
    if calendar is None or st.closed_at is None or st.due_at is None:
        return None
    return calendar.between(st.due_at, st.closed_at) if st.closed_at > st.due_at else 0


def _pill(tp: TaskProgress, calendar: WorkingCalendar | None) -> str:
    last = tp.runs[-1]
    if tp.state == LATE:
        late = late_minutes(last, calendar)
        return f"Quá hạn +{share_text(late)}" if late else "Quá hạn"
    if tp.state in (EARLY, ON_TIME):
        return ResultClass.LABELS[tp.state]
    if tp.state == CANCELLED:
        return "Đã hủy"
    if last.due_at is None:
        return "Đang xử lý"
    return f"{'quá hạn' if tp.state == OVERDUE else 'hạn'} {_short(last.due_at)}"


def _run_line(i: int, st: Step, state: str, at: datetime, calendar: WorkingCalendar | None) -> str:
    parts = [f"run {i}: {STATES[state].label}", f"opened {_when(st.opened_at)}"]
    if st.due_at is not None:
        parts.append(f"due {_when(st.due_at)}")
    if st.closed_at is not None and st.closed_at <= at:
        parts.append(f"closed {_when(st.closed_at)}")
    if state == LATE:
        late = late_minutes(st, calendar)
        if late:
            parts.append(f"{share_text(late)} late (working time)")
    elif state == OVERDUE and calendar is not None and st.due_at is not None:
        parts.append(f"overdue by {share_text(calendar.between(st.due_at, at))} (working time)")
    parts.append(f"unit {st.unit}" + (f", {st.assignee}" if st.assignee else ""))
    if st.status == "failed" and st.last_error:
        parts.append(f"service call failed: {st.last_error}")
    return "; ".join(parts)


def paint_progress(
    found: dict[str, TaskProgress],
    proc: Procedure,
    at: datetime,
    calendar: WorkingCalendar | None = None,
) -> dict[str, Paint]:
    """The paint of every step of ``proc``: by its progress, or as not reached."""
    paint: dict[str, Paint] = {}
    for sid, spec in proc.steps.items():
        tp = found.get(sid)
        if tp is None:
            if spec.is_step:
                s = STATES[NOT_REACHED]
                paint[sid] = Paint(fill=s.fill, stroke=s.stroke, ink="#70757a", css=s.name,
                                   title=(STATES[NOT_REACHED].label,))  # fmt: skip
            continue
        s = STATES[tp.state]
        lines = tuple(
            _run_line(i, st, step_state(st, at) or OPEN, at, calendar)
            for i, st in enumerate(tp.runs, 1)
        )
        paint[sid] = Paint(
            fill=s.fill,
            stroke=s.stroke,
            pill=_pill(tp, calendar),
            badge=f"×{len(tp.runs)}" if len(tp.runs) > 1 else None,
            title=lines,
            dashed=s.dashed,
            css=s.name,
        )
    return paint


def dossier_diagram(
    db: sqlite_utils.Database,
    procedure: Callable[[str], Procedure],
    code: str,
    *,
    at: datetime,
    calendar: WorkingCalendar | None = None,
) -> str:
    """The SVG picture of dossier ``code``'s progress at ``at``; ``procedure`` gives the
    procedure version the dossier was received under (by its hash), ``calendar`` counts how
    late a step is where the store does not say."""
    records = Records()
    d = records.dossier(db, code)
    proc = procedure(d.procedure_version)
    diagram = read_diagram(proc.bpmn, name=proc.source)
    found = progress(records.steps_of(db, code), at)
    paint = paint_progress(found, proc, at, calendar)
    counts: dict[str, int] = {}
    for tp in found.values():
        counts[tp.state] = counts.get(tp.state, 0) + 1
    done = sum(counts.get(k, 0) for k in (EARLY, ON_TIME, LATE))
    opened = counts.get(OPEN, 0) + counts.get(OVERDUE, 0)
    caption = [
        f"Hồ sơ {d.code} — {proc.name} ({proc.code})",
        f"status now (trạng thái): {d.status.label} · "
        f"received (ngày nhận) {_when(d.received_at)} · "
        f"appointment (hẹn trả kết quả) {_when(d.appointment)} · deadline "
        f"{'same day' if proc.same_day else days_text(proc.deadline_minutes) + ' working days'}",
        f"as of {_when(at)}: {done} task(s) done ({counts.get(EARLY, 0)} early, "
        f"{counts.get(ON_TIME, 0)} on time, {counts.get(LATE, 0)} late), {opened} open"
        + (f" ({counts[OVERDUE]} overdue)" if counts.get(OVERDUE) else ""),
    ]
    if counts.get(OVERDUE) or counts.get(LATE):
        caption[-1] = "!" + caption[-1]
    legend = [
        LegendItem(s.label + (", with its share" if s.name == NOT_REACHED else ""),
                   fill=s.fill, stroke=s.stroke, dashed=s.dashed)
        for s in STATES.values()
    ]  # fmt: skip
    legend.append(LegendItem("×2: the task ran twice; its latest run gives the colour",
                             sample="pill", text="×2"))  # fmt: skip
    return render_svg(diagram, paint=paint, caption=caption, legend=legend, longest=False)
