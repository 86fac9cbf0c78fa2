"""Random lives of one dossier, for property tests of SLA rules: hypothesis strategies and a player.

A *history* is a procedure code, a channel, optionally the instant the dossier arrives, and a
sequence of *actions* — move the clock on by working or wall time, complete an open user step, ask
for a supplement and receive it, start and end a financial obligation, tick, apologise; and, when
asked for, claim a step, withdraw or stop the dossier, refuse it at reception, act as a deputy,
restart the engine. :func:`dossier_histories` draws histories;
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

This module gathers what three others define, under the names it always had: the actions and
:class:`History` (:mod:`lienthong.testing.actions`), the player (:mod:`lienthong.testing.player`)
and the strategies (:mod:`lienthong.testing.histories`).

Needs hypothesis (the ``test`` extra).
"""

from __future__ import annotations

from lienthong.testing.actions import (
    WHO,
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
from lienthong.testing.histories import (
    DEFAULT_WEIGHTS,
    LONG_GAP_MINUTES,
    actions,
    dossier_histories,
)
from lienthong.testing.player import Applied, Player, PlayRecord, Snapshot, play

__all__ = [
    "DEFAULT_WEIGHTS",
    "LONG_GAP_MINUTES",
    "WHO",
    "Action",
    "Advance",
    "Apologise",
    "Applied",
    "Claim",
    "Complete",
    "EndObligation",
    "History",
    "PlayRecord",
    "Player",
    "ReceiveSupplement",
    "Refuse",
    "RequestSupplement",
    "Restart",
    "Snapshot",
    "StartObligation",
    "Tick",
    "Withdraw",
    "actions",
    "dossier_histories",
    "play",
]
