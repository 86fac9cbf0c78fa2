"""Hypothesis strategies for random lives of one dossier: :func:`actions` draws one action,
:func:`dossier_histories` a whole :class:`~lienthong.testing.actions.History`.

The kinds added after the first release (claim, withdraw, refuse, restart, deputy) have weight 0
in :data:`DEFAULT_WEIGHTS`: they are drawn only when asked for, so that a seed that drew a
history before draws the same one now. ``start`` and ``restarts`` of :func:`dossier_histories`
are drawn after everything else, for the same reason.

Needs hypothesis (the ``test`` extra); imports it at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from lienthong.status import Channel
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

__all__ = ["DEFAULT_WEIGHTS", "LONG_GAP_MINUTES", "actions", "dossier_histories"]

#: A long gap: at least this many wall-clock minutes (one week) with no tick.
LONG_GAP_MINUTES = 7 * 24 * 60

#: How often each kind of action is drawn, relative to the others, unless told otherwise. The
#: kinds with weight 0 are drawn only when ``weights`` gives them one: ``claim``
#: (:class:`Claim`), ``withdraw`` (the applicant's withdrawal or the agency's stop),
#: ``refuse`` (:class:`Refuse`), ``restart`` (:class:`Restart`, which needs ``play(...,
#: reopen=)``), ``deputy`` (a deputy completes, claims, apologises or stops the dossier).
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "advance": 3,
    "complete": 2,
    "tick": 2,
    "request_supplement": 1,
    "receive_supplement": 1,
    "start_obligation": 1,
    "end_obligation": 1,
    "apologise": 1,
    "claim": 0,
    "withdraw": 0,
    "refuse": 0,
    "restart": 0,
    "deputy": 0,
}


def actions(
    *,
    max_working_minutes: int = 3 * 480,
    max_wall_minutes: int = 4 * 24 * 60,
    weights: Mapping[str, int] | None = None,
) -> st.SearchStrategy[Action]:
    """One action. ``weights`` says how often each kind is drawn relative to the others (keys
    as in :data:`DEFAULT_WEIGHTS`; a kind left out keeps its default, 0 never draws it). Clock
    moves go up to ``max_working_minutes`` working or ``max_wall_minutes`` wall minutes."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(
            f"actions: unknown kinds {sorted(unknown)} (known: {', '.join(DEFAULT_WEIGHTS)})"
        )
    picks = st.integers(0, 3)
    kinds: dict[str, st.SearchStrategy[Action]] = {
        "advance": st.one_of(
            st.builds(Advance, st.integers(0, max_working_minutes), st.just(True)),
            st.builds(Advance, st.integers(0, max_wall_minutes), st.just(False)),
        ),
        "complete": st.builds(Complete, picks),
        "tick": st.just(Tick()),
        "request_supplement": st.builds(RequestSupplement, picks),
        "receive_supplement": st.just(ReceiveSupplement()),
        "start_obligation": st.just(StartObligation()),
        "end_obligation": st.just(EndObligation()),
        "apologise": st.builds(Apologise, st.integers(1, 5 * 480)),
        "claim": st.builds(Claim, picks, st.just("member"), picks),
        "withdraw": st.sampled_from(
            [Withdraw(by="member"), Withdraw(by="system"), Withdraw(by_agency=True, by="head")]
        ),
        "refuse": st.just(Refuse()),
        "restart": st.just(Restart()),
        "deputy": st.one_of(
            st.builds(Complete, picks, st.just("deputy")),
            st.builds(Claim, picks, st.just("deputy"), picks),
            st.builds(Apologise, st.integers(1, 5 * 480), st.just("deputy")),
            st.just(Withdraw(by_agency=True, by="deputy")),
        ),
    }
    drawn = [k for k in DEFAULT_WEIGHTS for _ in range(max(0, int(w[k])))]
    if not drawn:
        raise ValueError("actions: every weight is 0")
    return st.sampled_from(drawn).flatmap(kinds.__getitem__)


def dossier_histories(
    procedure: str | Sequence[str],
    *,
    channels: Sequence[Channel] = (Channel.DIRECT, Channel.ONLINE),
    min_actions: int = 8,
    max_actions: int = 30,
    long_gaps: int = 0,
    blocks: Sequence[Sequence[Action] | st.SearchStrategy[Sequence[Action]]] = (),
    max_working_minutes: int = 3 * 480,
    max_wall_minutes: int = 4 * 24 * 60,
    weights: Mapping[str, int] | None = None,
    start: datetime | st.SearchStrategy[datetime] | None = None,
    restarts: int = 0,
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
    :param start: the instant the dossier arrives (``History.start``): an instant, or a
        strategy drawing one (e.g. :func:`~lienthong.testing.boundary_instants`); ``None``
        leaves it to the clock.
    :param restarts: how many :class:`Restart` actions to insert at random places (each closes
        the engine and reopens it on the same file; ``play`` then needs ``reopen``).
    """
    codes = [procedure] if isinstance(procedure, str) else list(procedure)
    if not codes:
        raise ValueError("dossier_histories: give at least one procedure code")
    one = actions(
        max_working_minutes=max_working_minutes, max_wall_minutes=max_wall_minutes, weights=weights
    )
    gap = st.integers(LONG_GAP_MINUTES, LONG_GAP_MINUTES + 3 * 24 * 60).map(
        lambda m: (Advance(m, working=False), Tick())
    )
    fixed = [b if isinstance(b, st.SearchStrategy) else st.just(tuple(b)) for b in blocks]
    starts = start if start is None or isinstance(start, st.SearchStrategy) else st.just(start)

    @st.composite
    def build(draw: Any) -> History:
        code = draw(st.sampled_from(codes))
        channel = draw(st.sampled_from(list(channels)))
        # Units that insertions never split: each random action, each block, each long gap.
        units: list[tuple[Action, ...]] = [
            (a,) for a in draw(st.lists(one, min_size=min_actions, max_size=max_actions))
        ]
        lo = 0
        for block in fixed:
            at = draw(st.integers(lo, len(units)))
            units.insert(at, tuple(draw(block)))
            lo = at + 1
        for _ in range(long_gaps):
            units.insert(draw(st.integers(0, len(units))), draw(gap))
        # Drawn last: what came before is drawn as it was before these options existed.
        for _ in range(restarts):
            units.insert(draw(st.integers(0, len(units))), (Restart(),))
        arrives = draw(starts) if starts is not None else None
        acts = tuple(a for unit in units for a in unit)
        return History(procedure=code, channel=Channel(channel), actions=acts, start=arrives)

    return build()
