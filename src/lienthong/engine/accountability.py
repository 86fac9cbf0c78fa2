"""Who is accountable for a dossier's lateness: the unit at fault for the apology (Decree
118/2025 Art 19(6)) and, once it is resolved late, the units that made it late
(``dossier_faults``).

Pure functions of the records (steps, the dossier, its procedure) and an instant: the commands
(:mod:`~lienthong.engine.legal`, :mod:`~lienthong.engine.progress`,
:mod:`~lienthong.engine.tick`) read the records and store what these decide. ``docs/sla.md``
("Who is at fault") states the rules in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from lienthong.bpmn.procedures import Procedure
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.status import Channel
from lienthong.store.records import Dossier, Step


@attrs.frozen
class UnitAtFault:
    """A unit that must sign the apology (Mẫu 04), and why it is that unit."""

    unit: str
    why: str


def due_with_dossier(step: Step, d: Dossier) -> bool:
    """A step without a share of its own is due with the dossier (its appointment), whatever
    moves the appointment: a pause, a supplement's restart, an apology. An online dossier's
    reception step is the exception: it has its 8 working hours."""
    if step.share_minutes != 0:
        return False
    return not (step.step_kind == "reception" and d.channel == Channel.ONLINE)


def own_lateness(steps: Iterable[Step], at: datetime) -> list[UnitAtFault]:
    """The units whose own step (not one that reached them already late) is overdue at ``at``
    or was done late, each once, in the order their steps opened."""
    out: dict[str, str] = {}
    for s in steps:
        if s.arrived_late or s.unit in out:
            continue
        if s.is_open and s.due_at is not None and s.due_at < at:
            out[s.unit] = f"its step {s.id} ({s.name}) is overdue since {s.due_at.isoformat()}"
        elif s.status == "done" and (s.late_minutes or 0) > 0:
            out[s.unit] = (
                f"its step {s.id} ({s.name}) was done {s.late_minutes} working minutes late"
            )
    return [UnitAtFault(u, why) for u, why in out.items()]


def holders(steps: Iterable[Step]) -> list[UnitAtFault]:
    """The units holding the dossier's open work, each once, in the order their steps opened;
    the hand-over (trả kết quả) counts only when nothing else is open."""
    open_steps = [s for s in steps if s.is_open]
    work = [s for s in open_steps if s.step_kind != "return"] or open_steps
    out: dict[str, str] = {}
    for s in work:
        out.setdefault(s.unit, f"it holds the open work (step {s.id}, {s.name})")
    return [UnitAtFault(u, why) for u, why in out.items()]


def lead_agency(proc: Procedure, d: Dossier) -> str:
    """The lead agency (cơ quan chủ trì): the unit of the first lane, in the file's order, that
    is not only coordinating (``lienthong:coordinating``) and is not the receiving desk; the
    receiving unit when the desk does everything itself."""
    for lane in proc.lanes.values():
        unit = d.routing.get(lane.role)
        if not lane.coordinating and unit is not None and unit != d.receiving_unit:
            return unit
    return d.receiving_unit


def apology_units(
    proc: Procedure, d: Dossier, steps: Sequence[Step], at: datetime
) -> list[UnitAtFault]:
    """Who must sign the apology at ``at`` (its head or a deputy): the lead agency where the
    procedure says so (``lienthong:apology-by`` = ``lead``); else each unit whose own step is
    overdue or was done late; else each unit holding the open work; else the receiving unit.

    While the dossier is paused (a financial obligation), lateness is judged at the instant the
    pause began: the legal clock has not run since."""
    if proc.apology_by == "lead":
        return [
            UnitAtFault(
                lead_agency(proc, d), "the procedure names the lead agency (lienthong:apology-by)"
            )
        ]
    found = own_lateness(steps, d.paused_since or at) or holders(steps)
    return found or [UnitAtFault(d.receiving_unit, "it received the dossier")]


def resolution_faults(
    steps: Sequence[Step],
    legal_appointment: datetime,
    resolved: datetime,
    calendar: WorkingCalendar,
) -> dict[str, int]:
    """The units that made a dossier resolved late (after ``legal_appointment``) late, with
    working minutes: each unit whose own steps (not those that reached it already late) were done
    late, with the sum of their late minutes. When no step was done late (an apology gave the
    steps without a share more time, say), the units whose work was open when the appointment
    passed, each with the working minutes it kept that work past it (at least 1)."""
    faults: dict[str, int] = {}
    done = [s for s in steps if s.status == "done"]
    for s in done:
        if not s.arrived_late and (s.late_minutes or 0) > 0:
            faults[s.unit] = faults.get(s.unit, 0) + (s.late_minutes or 0)
    if faults:
        return faults
    for s in steps:
        if s.status == "cancelled" or s.opened_at > legal_appointment:
            continue
        end = min(s.closed_at or resolved, resolved)
        if end <= legal_appointment:
            continue
        kept = max(1, calendar.between(legal_appointment, end))
        faults[s.unit] = faults.get(s.unit, 0) + kept
    return faults
