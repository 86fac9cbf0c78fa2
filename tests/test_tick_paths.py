"""tick() has two ways of firing warnings and escalations: one action at a time, calling the SLA
hooks, and set-wise when no plugin observes them (for speed: bench/tick.py). They must write the
same thing: same audit rows (hashes included), same step rows, same report."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from unittest import mock

from hypothesis import HealthCheck, given, settings

from lienthong import Engine, FixedClock, Organisation, hookimpl
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import History, dossier_histories, instants, play
from support import PROCESSES, FakeAgencies

ORG = Organisation.from_file(DEMO_ORG)


class Watcher:
    """Observes every SLA hook and does nothing: it forces the one-at-a-time path."""

    __name__ = "watcher"

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def step_warning(self) -> None:
        self.seen += 1

    @hookimpl
    def step_escalated(self) -> None:
        self.seen += 1


def _run(history: History, start: datetime, *extra: object) -> tuple[list, list, list]:
    # The audit rows' state digests cover the steps' task ids, which SpiffWorkflow draws at
    # random: both runs draw the same ones.
    # lienthong's workflow class takes them from new_ids() (bpmn/workflow.py).
    ids = itertools.count(1)

    def new_ids(n: int) -> list[uuid.UUID]:
        return [uuid.UUID(int=next(ids)) for _ in range(n)]

    with mock.patch("lienthong.bpmn.workflow.new_ids", new_ids):
        return _play(history, start, *extra)


def _play(history: History, start: datetime, *extra: object) -> tuple[list, list, list]:
    clock = FixedClock(start)
    engine = Engine(":memory:", org=ORG, clock=clock, plugins=[FakeAgencies(), *extra],
                    entry_points=False)
    engine.load_procedures(PROCESSES)
    record = play(engine, clock, history)
    reports = [a.report.actions for a in record.applied if a.report is not None]
    audit = [dict(r) for r in engine.db.query("SELECT * FROM audit ORDER BY id")]
    steps = [dict(r) for r in engine.db.query(
        "SELECT id, status, warn_at, escalation_level, escalated_to, next_escalation_at, due_at "
        "FROM steps ORDER BY id")]
    engine.close()
    return reports, audit, steps


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=dossier_histories(["233448", "1.013831", "1.013932"], long_gaps=1, max_actions=20),
    start=instants(years=(2025, 2026)),
)
def test_both_tick_paths_write_the_same(history: History, start: datetime) -> None:
    watcher = Watcher()
    fast = _run(history, start)
    slow = _run(history, start, watcher)
    assert fast == slow


def test_both_paths_on_a_dossier_left_alone_for_two_weeks() -> None:
    """A fixed case where plenty fires: warnings, three escalation levels, a desk report."""
    from lienthong import Channel
    from lienthong.testing import Advance, Complete, Tick

    history = History(procedure="233448", channel=Channel.DIRECT, actions=(
        Complete(), Complete(), Advance(14 * 24 * 60, working=False), Tick()))
    start = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)
    watcher = Watcher()
    fast = _run(history, start)
    slow = _run(history, start, watcher)
    kinds = [a[1] for report in fast[0] for a in report]
    assert kinds.count("escalated") >= 4 and "warning" in kinds
    assert watcher.seen >= 6
    assert fast == slow
