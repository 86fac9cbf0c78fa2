"""Random lives of one dossier, for property tests of SLA rules: hypothesis strategies and a player.

A *history* is a procedure code, a channel and a sequence of *actions* — move the clock on by
working or wall time, complete an open user step, ask for a supplement and receive it, start and end
a financial obligation, tick, apologise. :func:`dossier_histories` draws histories;
:func:`play` receives the dossier and applies each action through the public
:class:`~lienthong.Engine` API with a :class:`~lienthong.FixedClock`. An action the
rules refuse at that point (:class:`~lienthong.errors.SlaError`,
:class:`~lienthong.errors.NotAllowed`) is recorded as *refused* and the play goes on; an action
with nothing to act on (no open user step, a closed dossier) is *skipped* without calling the
engine. Any other exception is a bug and propagates.

:func:`play` returns a :class:`PlayRecord`: for every action, what it was, the instant it took
effect, its outcome, snapshots of the dossier and its open steps before and after, the audit rows
it added and, for a tick, the :class:`~lienthong.engine.tick.TickReport`. Properties are then plain
assertions over the record. :class:`Player` applies one action at a time, for tests that check
something between actions.

Example::

    from datetime import datetime
    from hypothesis import given, settings
    from lienthong import VN_TZ, Engine, FixedClock
    from lienthong.testing.dossiers import (
        Advance, Complete, EndObligation, StartObligation, dossier_histories, play)

    pause = [[Complete(), StartObligation()], [Advance(480), EndObligation()]]

    @settings(max_examples=50, deadline=None)
    @given(dossier_histories("1.013831", blocks=pause))
    def test_a_pause_moves_the_appointment(history):
        clock = FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))
        engine = Engine(":memory:", org="org.toml", clock=clock)
        engine.load_procedures("processes")
        record = play(engine, clock, history)
        for a in record.done(EndObligation):
            p = a.after.dossier.paused_minutes - a.before.dossier.paused_minutes
            assert engine.calendar.between(a.before.dossier.appointment,
                                           a.after.dossier.appointment) == p

A fresh engine per example (``":memory:"``): hypothesis runs the test body many times, and a
function-scoped pytest fixture would be shared between them.

Needs hypothesis (the ``test`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from hypothesis import strategies as st

from lienthong.bpmn.procedures import Procedure
from lienthong.engine import Engine
from lienthong.engine.tick import TickReport
from lienthong.errors import NotAllowed, SlaError
from lienthong.legaltime.clock import FixedClock
from lienthong.status import Channel
from lienthong.store.records import Dossier, Step

__all__ = [
    "DEFAULT_WEIGHTS",
    "LONG_GAP_MINUTES",
    "Action",
    "Advance",
    "Apologise",
    "Applied",
    "Complete",
    "EndObligation",
    "History",
    "PlayRecord",
    "Player",
    "ReceiveSupplement",
    "RequestSupplement",
    "Snapshot",
    "StartObligation",
    "Tick",
    "actions",
    "dossier_histories",
    "play",
]

#: A long gap: at least this many wall-clock minutes (one week) with no tick.
LONG_GAP_MINUTES = 7 * 24 * 60


# -- actions ---------------------------------------------------------------------------------------
@attrs.frozen
class Action:
    """Base class of the actions of a history."""


@attrs.frozen
class Advance(Action):
    """Move the clock on by ``minutes``: working minutes on the engine's calendar
    (``working=True``; 0 moves to the next working instant) or wall-clock minutes."""

    minutes: int
    working: bool = True


@attrs.frozen
class Complete(Action):
    """Complete one open user step: the ``pick``-th (modulo their number) in opening order, by
    its assignee or a member of its unit, with every required field filled."""

    pick: int = 0


@attrs.frozen
class RequestSupplement(Action):
    """An officer of the ``pick``-th open step's unit asks for a supplement (Mẫu 02)."""

    pick: int = 0


@attrs.frozen
class ReceiveSupplement(Action):
    """The complete supplement arrives."""


@attrs.frozen
class StartObligation(Action):
    """The applicant must pay a financial obligation: the clock pauses."""


@attrs.frozen
class EndObligation(Action):
    """The obligation is paid: the clock runs again."""


@attrs.frozen
class Tick(Action):
    """``engine.tick(now)`` at the clock's current instant."""


@attrs.frozen
class Apologise(Action):
    """The head (or else a deputy) of the first unit at fault (``Engine.units_at_fault``)
    apologises; the new appointment is ``extra_minutes`` working minutes after the current one,
    or after now if that is later or there is none yet."""

    extra_minutes: int = 480


@attrs.frozen
class History:
    """One dossier's life: the procedure it is received under, its channel, then the actions."""

    procedure: str
    channel: Channel
    actions: tuple[Action, ...]


# -- what happened ---------------------------------------------------------------------------------
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

    def done(self, kind: type[Action] | None = None) -> list[Applied]:
        """The actions the engine accepted, optionally only those of one kind."""
        return [a for a in self.applied
                if a.done and (kind is None or isinstance(a.action, kind))]

    def refused(self, kind: type[Action] | None = None) -> list[Applied]:
        """The actions the SLA rules refused."""
        return [a for a in self.applied
                if a.outcome == "refused" and (kind is None or isinstance(a.action, kind))]

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

    :meth:`receive` must come first; :meth:`apply` then takes each action.
    """

    REFUSALS: tuple[type[Exception], ...] = (SlaError, NotAllowed)

    def __init__(
        self, engine: Engine, clock: FixedClock, procedure: str, *,
        channel: Channel | int = Channel.DIRECT, receiving_unit: str | None = None,
        applicant: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.procedure = engine.procedure(procedure)
        self.channel = Channel(int(channel))
        self.receiving_unit = receiving_unit or _desk(engine, self.procedure)
        self.applicant = dict(applicant or {"name": "Nguyễn Văn Thử"})
        self.record: PlayRecord | None = None
        self._seen = 0

    # -- reading the store --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The dossier and its open steps now."""
        assert self.record is not None, "receive() first"
        code = self.record.code
        return Snapshot(self.engine.dossier(code),
                        tuple(self.engine.open_steps(dossier=code)))

    def _new_audit(self, code: str) -> tuple[Mapping[str, Any], ...]:
        rows = self.engine.audit_rows(code)
        new = tuple(rows[self._seen:])
        self._seen = len(rows)
        return new

    # -- acting -------------------------------------------------------------------------------
    def receive(self) -> PlayRecord:
        """Receive the dossier now; returns the (new) record."""
        d = self.engine.receive(
            self.procedure.code, applicant=self.applicant, receiving_unit=self.receiving_unit,
            documents=list(self.procedure.required_documents), channel=self.channel)
        snap = Snapshot(d, tuple(self.engine.open_steps(dossier=d.code)))
        received = Applied(action=Action(), at=self.clock.now(), outcome="done", before=snap,
                           after=snap, audit=self._new_audit(d.code))
        self.record = PlayRecord(code=d.code, procedure=self.procedure, received=received)
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
            action=action, at=self.clock.now(), outcome=outcome, before=before,
            after=self.snapshot(), audit=self._new_audit(self.record.code), report=report,
            error=error)
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
        if d.is_closed:
            return _SKIP
        if isinstance(action, Complete):
            users = [s for s in before.open_steps if s.kind == "user"]
            if not users:
                return _SKIP
            step = users[action.pick % len(users)]
            spec = self.procedure.steps[step.spec_id]
            data = {f: f"{f.upper()}-1" for f in spec.required_fields}
            return e.complete(code, step.id, step.assignee or _member(e, step.unit), data)
        if isinstance(action, RequestSupplement):
            if not before.open_steps:
                return _SKIP
            step = before.open_steps[action.pick % len(before.open_steps)]
            return e.request_supplement(
                code, officer=_member(e, step.unit), missing=["giay_to_bo_sung"],
                reason="Thiếu giấy tờ (thử nghiệm)")
        if isinstance(action, ReceiveSupplement):
            return e.receive_supplement(code, documents=["giay_to_bo_sung"])
        if isinstance(action, StartObligation):
            return e.start_obligation(code, officer=_member(e, self.receiving_unit),
                                      note="nộp lệ phí (thử nghiệm)")
        if isinstance(action, EndObligation):
            return e.end_obligation(code)
        if isinstance(action, Apologise):
            if not before.open_steps:
                return _SKIP
            unit = e.org.unit(e.units_at_fault(code)[0].unit)
            signer = unit.head or next(iter(unit.deputies), None)
            if signer is None:
                return _SKIP
            now = self.clock.now()
            base = max(d.appointment, now) if d.appointment else now
            new = e.calendar.add_minutes(base, max(1, action.extra_minutes))
            return e.apologise(code, officer=signer, reason="Chậm xác minh (thử nghiệm)",
                               new_appointment=new)
        raise TypeError(f"unknown action {action!r}")


_SKIP = object()


def _member(engine: Engine, unit: str) -> str:
    members = engine.org.members(unit)
    if not members:
        raise NotAllowed(f"unit {unit} has no officer")
    return members[0].id


def _desk(engine: Engine, proc: Procedure) -> str:
    desks = engine.org.units_with_role("one-stop-desk")
    if desks:
        return desks[0].code
    lane = next(iter(proc.lanes.values()))
    return engine.org.resolve_role(lane.role).code


def play(
    engine: Engine, clock: FixedClock, history: History, *, receiving_unit: str | None = None,
    applicant: Mapping[str, Any] | None = None,
) -> PlayRecord:
    """Receive a dossier at the clock's instant and apply every action of ``history``.

    Refused actions (SlaError, NotAllowed) are recorded and skipped; see :class:`Player`.
    """
    player = Player(engine, clock, history.procedure, channel=history.channel,
                    receiving_unit=receiving_unit, applicant=applicant)
    player.receive()
    for action in history.actions:
        player.apply(action)
    assert player.record is not None
    return player.record


# -- strategies ------------------------------------------------------------------------------------
#: How often each kind of action is drawn, relative to the others, unless told otherwise.
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "advance": 3, "complete": 2, "tick": 2, "request_supplement": 1, "receive_supplement": 1,
    "start_obligation": 1, "end_obligation": 1, "apologise": 1,
}


def actions(
    *, max_working_minutes: int = 3 * 480, max_wall_minutes: int = 4 * 24 * 60,
    weights: Mapping[str, int] | None = None,
) -> st.SearchStrategy[Action]:
    """One action. ``weights`` says how often each kind is drawn relative to the others (keys
    as in :data:`DEFAULT_WEIGHTS`; a kind left out keeps its default, 0 never draws it). Clock
    moves go up to ``max_working_minutes`` working or ``max_wall_minutes`` wall minutes."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"actions: unknown kinds {sorted(unknown)} "
                         f"(known: {', '.join(DEFAULT_WEIGHTS)})")
    kinds: dict[str, st.SearchStrategy[Action]] = {
        "advance": st.one_of(
            st.builds(Advance, st.integers(0, max_working_minutes), st.just(True)),
            st.builds(Advance, st.integers(0, max_wall_minutes), st.just(False)),
        ),
        "complete": st.builds(Complete, st.integers(0, 3)),
        "tick": st.just(Tick()),
        "request_supplement": st.builds(RequestSupplement, st.integers(0, 3)),
        "receive_supplement": st.just(ReceiveSupplement()),
        "start_obligation": st.just(StartObligation()),
        "end_obligation": st.just(EndObligation()),
        "apologise": st.builds(Apologise, st.integers(1, 5 * 480)),
    }
    drawn = [k for k in DEFAULT_WEIGHTS for _ in range(max(0, int(w[k])))]
    if not drawn:
        raise ValueError("actions: every weight is 0")
    return st.sampled_from(drawn).flatmap(kinds.__getitem__)


def dossier_histories(
    procedure: str | Sequence[str], *,
    channels: Sequence[Channel] = (Channel.DIRECT, Channel.ONLINE),
    min_actions: int = 8, max_actions: int = 30, long_gaps: int = 0,
    blocks: Sequence[Sequence[Action] | st.SearchStrategy[Sequence[Action]]] = (),
    max_working_minutes: int = 3 * 480, max_wall_minutes: int = 4 * 24 * 60,
    weights: Mapping[str, int] | None = None,
) -> st.SearchStrategy[History]:
    """Histories of one dossier of ``procedure`` (a code, or several to draw from).

    :param channels: the channels to draw from.
    :param min_actions: fewest random actions; ``max_actions``: most.
    :param long_gaps: how many long gaps to insert at random places: a wall-clock move of at least
        a week (:data:`LONG_GAP_MINUTES`) with no tick, then one :class:`Tick`.
    :param blocks: actions that must happen, so that a property about a rare action is surely
        exercised: each block (a sequence of actions, or a strategy drawing one) is inserted
        whole at a random place among the random actions, the blocks in the order given. E.g.
        ``[[Complete(), StartObligation()], [Advance(480), EndObligation()]]`` for a pause.
    :param max_working_minutes: the longest working-time move of the clock in one action;
        ``max_wall_minutes``: the longest wall-clock move.
    :param weights: how often each kind of action is drawn; see :func:`actions`.
    """
    codes = [procedure] if isinstance(procedure, str) else list(procedure)
    if not codes:
        raise ValueError("dossier_histories: give at least one procedure code")
    one = actions(max_working_minutes=max_working_minutes, max_wall_minutes=max_wall_minutes,
                  weights=weights)
    gap = st.integers(LONG_GAP_MINUTES, LONG_GAP_MINUTES + 3 * 24 * 60).map(
        lambda m: (Advance(m, working=False), Tick()))
    fixed = [b if isinstance(b, st.SearchStrategy) else st.just(tuple(b)) for b in blocks]

    @st.composite
    def build(draw: Any) -> History:
        code = draw(st.sampled_from(codes))
        channel = draw(st.sampled_from(list(channels)))
        # Units that insertions never split: each random action, each block, each long gap.
        units: list[tuple[Action, ...]] = [
            (a,) for a in draw(st.lists(one, min_size=min_actions, max_size=max_actions))]
        lo = 0
        for block in fixed:
            at = draw(st.integers(lo, len(units)))
            units.insert(at, tuple(draw(block)))
            lo = at + 1
        for _ in range(long_gaps):
            units.insert(draw(st.integers(0, len(units))), draw(gap))
        acts = tuple(a for unit in units for a in unit)
        return History(procedure=code, channel=Channel(channel), actions=acts)

    return build()
