"""The actions of a dossier's history, and the history itself: plain frozen values that
:mod:`lienthong.testing.player` applies and :mod:`lienthong.testing.histories` draws.

Who acts is said with ``by``, one of :data:`WHO`, resolved against the unit concerned when the
action is applied: ``"member"`` its first officer (or the ``officer``-th, where the action has
that field), ``"head"`` its head (người đứng đầu), ``"deputy"`` one of its deputies (cấp phó),
``"system"`` no officer (the portal). An action whose officer does not exist (a unit with no
deputy, say) is skipped, not refused: the engine is not called.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from lienthong.status import Channel

__all__ = [
    "WHO",
    "Action",
    "Advance",
    "Apologise",
    "Claim",
    "Complete",
    "EndObligation",
    "History",
    "ReceiveSupplement",
    "Refuse",
    "RequestSupplement",
    "Restart",
    "StartObligation",
    "Tick",
    "Withdraw",
]

#: The ways of saying who acts (see the module's docstring).
WHO = ("assignee", "member", "head", "deputy", "system")


def _who(*allowed: str) -> Any:
    return attrs.validators.in_(allowed)


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
    """Complete one open user step: the ``pick``-th (modulo their number) in opening order, with
    every required field filled, by its assignee or else the first officer of its unit
    (``by="assignee"``), or by the unit's head or first deputy (``by="head"``, ``"deputy"``)."""

    pick: int = 0
    by: str = attrs.field(default="assignee", validator=_who("assignee", "head", "deputy"))


@attrs.frozen
class Claim(Action):
    """Claim (nhận xử lý) the ``pick``-th open user step: by the ``officer``-th officer of its
    unit (``by="member"``, modulo their number), its head or its ``officer``-th deputy."""

    pick: int = 0
    by: str = attrs.field(default="member", validator=_who("member", "head", "deputy"))
    officer: int = 0


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
    """The head (``by="head"``) or first deputy (``by="deputy"``) of the first unit at fault
    (``Engine.units_at_fault``) apologises; the new appointment is ``extra_minutes`` working
    minutes after the current one, or after now if that is later or there is none yet."""

    extra_minutes: int = 480
    by: str = attrs.field(default="head", validator=_who("head", "deputy"))


@attrs.frozen
class Withdraw(Action):
    """The applicant withdraws the dossier (status 7), recorded by an officer of the receiving
    unit (``by="member"``) or through the portal (``by="system"``); or, with ``by_agency``, the
    receiving unit's head or first deputy stops it (status 8, Mẫu 05)."""

    by_agency: bool = False
    by: str = attrs.field(default="member", validator=_who("member", "head", "deputy", "system"))


@attrs.frozen
class Refuse(Action):
    """The open reception step refuses the dossier (không tiếp nhận, status 3, Mẫu 03): it is
    completed with ``{"accepted": False, "reason": ...}`` by its assignee or a member of its
    unit. Skipped when no reception step is open."""


@attrs.frozen
class Restart(Action):
    """Close the engine and reopen it on the same file (the ``reopen`` given to
    :func:`~lienthong.testing.player.play`); the play goes on with the new engine."""


@attrs.frozen
class History:
    """One dossier's life: the procedure it is received under, its channel, then the actions.

    ``start``, when given, is the instant the dossier arrives: the player sets the clock to it
    before receiving. ``None`` receives it at the clock's instant.
    """

    procedure: str
    channel: Channel
    actions: tuple[Action, ...]
    start: datetime | None = None
