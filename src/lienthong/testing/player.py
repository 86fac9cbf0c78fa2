"""The player of dossier histories: receives one dossier and applies a history's actions to it
through the public :class:`~lienthong.Engine` API, recording what each did.

An action the rules refuse at that point (:class:`~lienthong.errors.SlaError`,
:class:`~lienthong.errors.NotAllowed`) is recorded as *refused* and the play goes on; an action
with nothing to act on (no open user step, a closed dossier, a unit without the deputy it names)
is *skipped* without calling the engine. Any other exception is a bug and propagates.

A :class:`~lienthong.testing.actions.Restart` closes the engine and opens a new one with the
``reopen`` function the test gives (on the same file, with the same clock): the play goes on
with it, and :attr:`PlayRecord.engine` is the engine the play ended on.

Needs no hypothesis: tests may write histories by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from lienthong.bpmn.procedures import Procedure
from lienthong.engine import Engine
from lienthong.engine.tick import TickReport
from lienthong.errors import LienthongError, NotAllowed, SlaError
from lienthong.legaltime.clock import FixedClock
from lienthong.status import Channel
from lienthong.store.records import Dossier, Step
from lienthong.testing.actions import (
    Action,
    Advance,
    Apologise,
    Claim,
    Complete,
    EndObligation,
    History,
    ReceiveSupplement,
    Refuse,
    RequestSupplement,
    Restart,
    StartObligation,
    Tick,
    Withdraw,
)

__all__ = ["Applied", "PlayRecord", "Player", "Snapshot", "play"]


@attrs.frozen
class Snapshot:
    """The dossier and its open steps (in opening order) at one moment."""

    dossier: Dossier
    open_steps: tuple[Step, ...]

    def step(self, step_id: int) -> Step | None:
        """The open step with that id, or None."""
        return next((s for s in self.open_steps if s.id == step_id), None)


@attrs.frozen
class Applied:
    """One action as :func:`play` applied it.

    ``outcome`` is ``"done"``, ``"refused"`` (the engine raised SlaError or NotAllowed: ``error``
    holds it) or ``"skipped"`` (nothing to act on; the engine was not called). ``at`` is the
    clock's instant once the action took effect. ``audit`` holds the audit rows it added to the
    dossier, ``report`` a tick's report.
    """

    action: Action
    at: datetime
    outcome: str
    before: Snapshot
    after: Snapshot
    audit: tuple[Mapping[str, Any], ...] = ()
    report: TickReport | None = None
    error: Exception | None = None

    @property
    def done(self) -> bool:
        """Whether the engine accepted the action."""
        return self.outcome == "done"


@attrs.define
class PlayRecord:
    """Everything :func:`play` did to one dossier: its reception, then one entry per action."""

    code: str
    procedure: Procedure
    received: Applied
    applied: list[Applied] = attrs.Factory(list)
    #: The engine the play ended on: the one given, or the last one a Restart opened.
    engine: Engine | None = attrs.field(default=None, eq=False, repr=False)

    def done(self, kind: type[Action] | None = None) -> list[Applied]:
        """The actions the engine accepted, optionally only those of one kind."""
        return [a for a in self.applied if a.done and (kind is None or isinstance(a.action, kind))]

    def skipped(self, kind: type[Action] | None = None) -> list[Applied]:
        """The actions with nothing to act on (the engine was not called)."""
        return [
            a
            for a in self.applied
            if a.outcome == "skipped" and (kind is None or isinstance(a.action, kind))
        ]

    def refused(self, kind: type[Action] | None = None) -> list[Applied]:
        """The actions the SLA rules refused."""
        return [
            a
            for a in self.applied
            if a.outcome == "refused" and (kind is None or isinstance(a.action, kind))
        ]

    @property
    def audit(self) -> list[Mapping[str, Any]]:
        """Every audit row of the dossier the play produced, in order."""
        rows = list(self.received.audit)
        for a in self.applied:
            rows.extend(a.audit)
        return rows

    @property
    def last(self) -> Snapshot:
        """The dossier and its open steps at the end."""
        return self.applied[-1].after if self.applied else self.received.after


# -- the player ------------------------------------------------------------------------------------
class Player:
    """Applies a dossier's actions one at a time through the public Engine API.

    :param engine: the engine, with the procedure loaded.
    :param clock: the :class:`FixedClock` the engine reads.
    :param procedure: the procedure code.
    :param channel: how the dossier is submitted.
    :param receiving_unit: the unit receiving it; by default the unit holding the
        ``one-stop-desk`` role, or else the unit of the procedure's first lane.
    :param applicant: the applicant's data (a name by default).
    :param reopen: for :class:`~lienthong.testing.actions.Restart`: opens a new Engine on the
        same file, reading ``clock`` (e.g. ``lambda: make_test_engine(clock=clock, db=path)``).

    :meth:`receive` must come first; :meth:`apply` then takes each action. :attr:`engine` is
    the engine in use (a new one after each restart).
    """

    REFUSALS: tuple[type[Exception], ...] = (SlaError, NotAllowed)

    def __init__(
        self,
        engine: Engine,
        clock: FixedClock,
        procedure: str,
        *,
        channel: Channel | int = Channel.DIRECT,
        receiving_unit: str | None = None,
        applicant: Mapping[str, Any] | None = None,
        reopen: Callable[[], Engine] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.procedure = engine.procedure(procedure)
        self.channel = Channel(int(channel))
        self.receiving_unit = receiving_unit or _desk(engine, self.procedure)
        self.applicant = dict(applicant or {"name": "Nguyễn Văn Thử"})
        self.reopen = reopen
        self.restarts = 0
        self.record: PlayRecord | None = None
        self._seen = 0

    # -- reading the store --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The dossier and its open steps now."""
        assert self.record is not None, "receive() first"
        code = self.record.code
        return Snapshot(self.engine.dossier(code), tuple(self.engine.open_steps(dossier=code)))

    def _new_audit(self, code: str) -> tuple[Mapping[str, Any], ...]:
        rows = self.engine.audit_rows(code)
        new = tuple(rows[self._seen :])
        self._seen = len(rows)
        return new

    # -- acting -------------------------------------------------------------------------------
    def receive(self, at: datetime | None = None) -> PlayRecord:
        """Receive the dossier now (or at ``at``: the clock is set to it first); returns the
        (new) record."""
        if at is not None:
            self.clock.set(at)
        d = self.engine.receive(
            self.procedure.code,
            applicant=self.applicant,
            receiving_unit=self.receiving_unit,
            documents=list(self.procedure.required_documents),
            channel=self.channel,
        )
        snap = Snapshot(d, tuple(self.engine.open_steps(dossier=d.code)))
        received = Applied(
            action=Action(),
            at=self.clock.now(),
            outcome="done",
            before=snap,
            after=snap,
            audit=self._new_audit(d.code),
        )
        self.record = PlayRecord(
            code=d.code, procedure=self.procedure, received=received, engine=self.engine
        )
        return self.record

    def apply(self, action: Action) -> Applied:
        """Apply one action, record it and return the record entry."""
        assert self.record is not None, "receive() first"
        before = self.snapshot()
        outcome, report, error = "done", None, None
        try:
            result = self._act(action, before)
        except self.REFUSALS as e:
            outcome, error = "refused", e
        else:
            if result is _SKIP:
                outcome = "skipped"
            elif isinstance(result, TickReport):
                report = result
        applied = Applied(
            action=action,
            at=self.clock.now(),
            outcome=outcome,
            before=before,
            after=self.snapshot(),
            audit=self._new_audit(self.record.code),
            report=report,
            error=error,
        )
        self.record.applied.append(applied)
        return applied

    def _act(self, action: Action, before: Snapshot) -> Any:
        e, code, d = self.engine, before.dossier.code, before.dossier
        if isinstance(action, Advance):
            if action.working:
                self.clock.set(e.calendar.add_minutes(self.clock.now(), action.minutes))
            else:
                self.clock.advance(minutes=action.minutes)
            return None
        if isinstance(action, Tick):
            return e.tick(self.clock.now())
        if isinstance(action, Restart):
            return self._restart(code)
        if d.is_closed:
            return _SKIP
        users = [s for s in before.open_steps if s.kind == "user"]
        if isinstance(action, Complete | Claim):
            if not users:
                return _SKIP
            step = users[action.pick % len(users)]
            if isinstance(action, Claim):
                who = _officer(e, step.unit, action.by, action.officer)
                return _SKIP if who is _SKIP else e.claim(code, step.id, who)
            if action.by == "assignee":
                who = step.assignee or _officer(e, step.unit, "member")
            else:
                who = _officer(e, step.unit, action.by)
            if who is _SKIP:
                return _SKIP
            spec = self.procedure.steps[step.spec_id]
            data = {f: f"{f.upper()}-1" for f in spec.required_fields}
            return e.complete(code, step.id, who, data)
        if isinstance(action, Refuse):
            desk = [s for s in users if s.step_kind == "reception"]
            if not desk:
                return _SKIP
            step = desk[0]
            who = step.assignee or _officer(e, step.unit, "member")
            return e.complete(
                code, step.id, who, {"accepted": False, "reason": "Hồ sơ không hợp lệ (thử nghiệm)"}
            )
        if isinstance(action, RequestSupplement):
            if not before.open_steps:
                return _SKIP
            step = before.open_steps[action.pick % len(before.open_steps)]
            return e.request_supplement(
                code,
                officer=_member(e, step.unit),
                missing=["giay_to_bo_sung"],
                reason="Thiếu giấy tờ (thử nghiệm)",
            )
        if isinstance(action, ReceiveSupplement):
            return e.receive_supplement(code, documents=["giay_to_bo_sung"])
        if isinstance(action, StartObligation):
            return e.start_obligation(
                code, officer=_member(e, self.receiving_unit), note="nộp lệ phí (thử nghiệm)"
            )
        if isinstance(action, EndObligation):
            return e.end_obligation(code)
        if isinstance(action, Withdraw):
            who = _officer(e, d.receiving_unit, action.by)
            if who is _SKIP:
                return _SKIP
            reason = (
                "Dừng xử lý (thử nghiệm)" if action.by_agency else "Công dân rút hồ sơ (thử nghiệm)"
            )
            return e.withdraw(code, reason=reason, officer=who, by_agency=action.by_agency)
        if isinstance(action, Apologise):
            if not before.open_steps:
                return _SKIP
            # The unit at fault signs (Decree 118 Art 19(6)); its head, or a deputy.
            who = _officer(e, e.units_at_fault(code)[0].unit, action.by)
            if who is _SKIP:
                return _SKIP
            now = self.clock.now()
            base = max(d.appointment, now) if d.appointment else now
            new = e.calendar.add_minutes(base, max(1, action.extra_minutes))
            return e.apologise(
                code, officer=who, reason="Chậm xác minh (thử nghiệm)", new_appointment=new
            )
        raise TypeError(f"unknown action {action!r}")

    def _restart(self, code: str) -> None:
        if self.reopen is None:
            raise ValueError(
                "the history has a Restart: give play() (or Player) reopen=, a function that "
                "opens a new Engine on the same file with the same clock"
            )
        self.engine.close()
        new = self.reopen()
        if new.clock is not self.clock:
            new.close()
            raise ValueError("reopen() must give an Engine that reads the player's clock")
        try:
            new.dossier(code)
        except LienthongError:
            new.close()
            raise ValueError(
                f"the engine reopen() gave does not hold dossier {code}: a restart needs an "
                "engine on a file (not ':memory:'), the same file each time"
            ) from None
        self.engine = new
        self.restarts += 1
        assert self.record is not None
        self.record.engine = new


_SKIP = object()


def _member(engine: Engine, unit: str) -> str:
    members = engine.org.members(unit)
    if not members:
        raise NotAllowed(f"unit {unit} has no officer")
    return members[0].id


def _officer(engine: Engine, unit: str, by: str, index: int = 0) -> Any:
    """The officer ``by`` names at ``unit`` (see :mod:`lienthong.testing.actions`): an id,
    ``None`` for the system, or ``_SKIP`` when the unit has no such officer."""
    if by == "system":
        return None
    u = engine.org.unit(unit)
    if by == "head":
        return u.head or _SKIP
    if by == "deputy":
        return u.deputies[index % len(u.deputies)] if u.deputies else _SKIP
    members = engine.org.members(unit)
    if not members:
        raise NotAllowed(f"unit {unit} has no officer")
    return members[index % len(members)].id


def _desk(engine: Engine, proc: Procedure) -> str:
    desks = engine.org.units_with_role("one-stop-desk")
    if desks:
        return desks[0].code
    lane = next(iter(proc.lanes.values()))
    return engine.org.resolve_role(lane.role).code


def play(
    engine: Engine,
    clock: FixedClock,
    history: History,
    *,
    receiving_unit: str | None = None,
    applicant: Mapping[str, Any] | None = None,
    reopen: Callable[[], Engine] | None = None,
) -> PlayRecord:
    """Receive a dossier (at ``history.start``, if set; else at the clock's instant) and apply
    every action of ``history``.

    Refused actions (SlaError, NotAllowed) are recorded and skipped; see :class:`Player`. A
    history with a :class:`~lienthong.testing.actions.Restart` needs ``reopen``; the engine the
    play ends on is ``record.engine`` (close that one).
    """
    player = Player(
        engine,
        clock,
        history.procedure,
        channel=history.channel,
        receiving_unit=receiving_unit,
        applicant=applicant,
        reopen=reopen,
    )
    player.receive(history.start)
    for action in history.actions:
        player.apply(action)
    assert player.record is not None
    return player.record
