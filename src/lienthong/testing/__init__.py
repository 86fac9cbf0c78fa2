"""Test helpers for users' own SLA tests: hypothesis strategies and a fixed clock.

Needs the ``test`` extra (``pip install lienthong[test]``) for the strategies: hypothesis is
imported when a strategy is first called, so importing this module (e.g. for :class:`FixedClock`)
works without it.

Strategies:

* :func:`instants` — aware datetimes in Asia/Ho_Chi_Minh, whole minutes, over a year range;
* :func:`boundary_instants` — instants mostly at the working day's edges (08:00, 12:00, 13:00,
  15:00, 17:00, give or take a minute), half of them on :func:`holiday_edges`;
* :func:`working_durations` — durations in working minutes (in a given calendar's days);
* :func:`overlays` — random calendar overlays (extra weekdays off, worked weekend days);
* :func:`calendars` — :class:`~lienthong.WorkingCalendar` objects with a random overlay;
* :func:`organisations` — unit hierarchies with heads, deputies, officers and lane roles;
* :func:`procedure_drafts`, :func:`procedures` — random procedures (their BPMN bytes), shares
  within a random deadline;
* :func:`dossier_histories`, :func:`actions`, :func:`play`, :class:`Player` — random lives of one
  dossier played through the Engine (from :mod:`lienthong.testing.histories`,
  :mod:`lienthong.testing.actions` and :mod:`lienthong.testing.player`, gathered in
  :mod:`lienthong.testing.dossiers`).

Helpers for tests that run dossiers: :func:`make_test_engine` (an Engine with the demo organisation,
a fixed clock and only the plugins given), :func:`sample_process`, :class:`StubOperations` (a
plugin with canned service-task results), :func:`run_dossier` (receive one and work it to the
end), :func:`comparable_state` and :func:`assert_same_state` (two engines' dossiers, steps and
audit, SpiffWorkflow's random task ids aside).

Example::

    from hypothesis import given
    from lienthong.testing import calendars, instants, working_durations

    @given(calendars(), instants(), working_durations(min_minutes=1))
    def test_due_is_after_receipt(cal, received, minutes):
        assert cal.add_minutes(received, minutes) > received
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lienthong.legaltime.clock import FixedClock
from lienthong.testing.calendars import (
    DEFAULT_YEARS,
    boundary_instants,
    calendars,
    holiday_edges,
    instants,
    overlays,
    periods,
    reference_add_minutes,
    working_durations,
)
from lienthong.testing.engines import (
    StubOperations,
    demo_organisation,
    make_test_engine,
    run_dossier,
    sample_process,
)
from lienthong.testing.orgs import DEMO_ROLES, depth, organisations
from lienthong.testing.procedures import ProcedureDraft, StepDraft, procedure_drafts, procedures
from lienthong.testing.states import assert_same_state, comparable_state

if TYPE_CHECKING:
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
    from lienthong.testing.histories import DEFAULT_WEIGHTS, actions, dossier_histories
    from lienthong.testing.player import Player, PlayRecord, play

__all__ = [
    "DEFAULT_WEIGHTS",
    "DEFAULT_YEARS",
    "DEMO_ROLES",
    "Action",
    "Advance",
    "Apologise",
    "Claim",
    "Complete",
    "EndObligation",
    "FixedClock",
    "History",
    "PlayRecord",
    "Player",
    "ProcedureDraft",
    "ReceiveSupplement",
    "Refuse",
    "RequestSupplement",
    "Restart",
    "StartObligation",
    "StepDraft",
    "StubOperations",
    "Tick",
    "Withdraw",
    "actions",
    "assert_same_state",
    "boundary_instants",
    "calendars",
    "comparable_state",
    "demo_organisation",
    "depth",
    "dossier_histories",
    "holiday_edges",
    "instants",
    "make_test_engine",
    "organisations",
    "overlays",
    "periods",
    "play",
    "procedure_drafts",
    "procedures",
    "reference_add_minutes",
    "run_dossier",
    "sample_process",
    "working_durations",
]

#: Dossier histories, their actions and the player import the Engine (and the strategies
#: hypothesis) at once: they are re-exported here lazily, on first use, from these modules.
_LAZY = {
    "lienthong.testing.actions": """Action Advance Apologise Claim Complete EndObligation History
        ReceiveSupplement Refuse RequestSupplement Restart StartObligation Tick Withdraw""",
    "lienthong.testing.histories": "DEFAULT_WEIGHTS actions dossier_histories",
    "lienthong.testing.player": "Player PlayRecord play",
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'lienthong.testing' has no attribute {name!r}")
