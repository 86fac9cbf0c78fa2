"""The engine: :class:`Engine`, a facade over command groups that share one context.

Rooms: :mod:`~lienthong.engine.facade` (the Engine users import), :mod:`~lienthong.engine.steps`
(reception and steps), :mod:`~lienthong.engine.services` (service steps),
:mod:`~lienthong.engine.legal` (supplements, obligations, the apology),
:mod:`~lienthong.engine.tick` (the SLA timers), :mod:`~lienthong.engine.progress` (how a dossier
moves on), :mod:`~lienthong.engine.context`, :mod:`~lienthong.engine.procedures` and
:mod:`~lienthong.engine.workflows` (what they share), :mod:`~lienthong.engine.validation`.
"""

from lienthong.engine.facade import Engine
from lienthong.engine.tick import TickReport

__all__ = ["Engine", "TickReport"]
