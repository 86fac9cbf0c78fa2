"""The modules that moved when lienthong became one package per concern (0.2), and the aliases
that keep their old import paths working until 0.3.

Each old module (``lienthong/calendar.py``, ``lienthong/hookspecs.py``, …) is a two-line file that
calls :func:`alias`: importing it warns once (:class:`DeprecationWarning`, naming the new path)
and gives the new module itself, so every name, private ones included, and every monkeypatch
work as before. Its star import is for type checkers, which do not run the alias.
"""

from __future__ import annotations

import importlib
import sys
import warnings

#: Old module -> new module.
MOVED = {
    "lienthong.audit": "lienthong.store.audit",
    "lienthong.calendar": "lienthong.legaltime.calendar",
    "lienthong.checkpoint": "lienthong.store.checkpoint",
    "lienthong.cli_calendar": "lienthong.cli.calendar",
    "lienthong.cli_plugins": "lienthong.cli.plugins",
    "lienthong.clock": "lienthong.legaltime.clock",
    "lienthong.default_plugins": "lienthong.plugins.defaults",
    "lienthong.durations": "lienthong.legaltime.durations",
    "lienthong.hookspecs": "lienthong.plugins.hookspecs",
    "lienthong.procedures": "lienthong.bpmn.procedures",
    "lienthong.records": "lienthong.store.records",
    "lienthong.scripts": "lienthong.bpmn.scripts",
    "lienthong.sheet": "lienthong.reports.sheet",
    "lienthong.sla": "lienthong.legaltime.rules",
    "lienthong.state": "lienthong.bpmn.state",
    "lienthong.testing_dossiers": "lienthong.testing.dossiers",
    "lienthong.timers": "lienthong.engine.tick",
    "lienthong.workflow": "lienthong.bpmn.workflow",
}


def warn(old: str) -> str:
    """Warn that ``old`` moved; return where to."""
    new = MOVED[old]
    warnings.warn(
        f"{old} moved to {new}; the old path goes in lienthong 0.3", DeprecationWarning,
        stacklevel=3,
    )
    return new


def alias(old: str) -> None:
    """Make the module being imported as ``old`` the module it moved to."""
    sys.modules[old] = importlib.import_module(warn(old))
