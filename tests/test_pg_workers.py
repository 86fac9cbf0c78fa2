"""Ticks and workers side by side on one PostgreSQL store (issue 14): several ``tick``
processes share the due work, each action fires exactly once, and a tick killed in the middle of
a batch leaves nothing locked and nothing half done; a service worker killed inside an agency's
call holds no lock meanwhile, and its step is taken by another worker once its lease runs out.

On PostgreSQL each batch of a tick locks its dossiers' rows (``FOR UPDATE SKIP LOCKED``,
:func:`lienthong.store.due.lock_dossiers`) before it writes; a batch leaves the dossiers another
transaction holds, and a second pass waits for what is still due. These tests run only when
``LIENTHONG_TEST_DB`` names a server (``.ci/pg``); on SQLite, ``test_tick_race.py`` covers ticks
taking turns under the write lock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from lienthong import Engine, FixedClock, Organisation
from lienthong.demo import DEMO_ORG
from lienthong.testing.databases import server, store_for
from pg_workers import held_ticker, held_worker, ticker
from support import (
    KHAI_SINH,
    FakeAgencies,
    fill_due_timers,
    officer_of,
    receive_birth,
    run_processes,
    vn,
)

pytestmark = pytest.mark.skipif(server() is None, reason="needs LIENTHONG_TEST_DB (PostgreSQL)")

AT = vn(2025, 4, 21, 10, 0)  # weeks after the dossiers arrived: every timer has fallen due
WORKERS = 4
BATCH = 6  # actions a batch: the due work makes many batches for the workers to share


def _alone(url: str) -> Counter[tuple[Any, ...]]:
    """What one tick fires, alone, on a store filled the same way."""
    fill_due_timers(url)
    with Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(AT),
        plugins=[FakeAgencies()],
        entry_points=False,
    ) as engine:
        return Counter(
            (a.isoformat(), kind, code, step) for a, kind, code, step in engine.tick(AT).actions
        )


def _engine(url: str) -> Engine:
    return Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(AT),
        plugins=[FakeAgencies()],
        entry_points=False,
    )


def _audit_events(engine: Engine) -> Counter[tuple[Any, ...]]:
    return Counter(
        tuple(r.values())
        for r in engine.db.query(
            "SELECT event, dossier, step_id, at FROM audit "
            "WHERE event NOT IN ('received', 'handoff')"
        )
    )


def _locks_of_others(engine: Engine) -> list[dict[str, Any]]:
    """Locks other sessions hold: advisory ones, and rows or tables of this store's schema."""
    return list(
        engine.db.query(
            "SELECT l.locktype, l.pid, l.mode FROM pg_locks l LEFT JOIN pg_class c "
            "ON c.oid = l.relation WHERE l.pid <> pg_backend_pid() AND l.granted AND "
            "(l.locktype = 'advisory' OR c.relnamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
        )
    )


@pytest.mark.parametrize("pause", [0.0, 0.02], ids=["set-wise", "observed"])
def test_four_ticks_share_the_due_work_and_fire_each_action_once(
    tmp_path: Any, pause: float
) -> None:
    expected = _alone(store_for(tmp_path / "alone.db"))
    assert sum(expected.values()) > 4 * BATCH  # enough for every worker to have a share
    shared = store_for(tmp_path / "shared.db")
    fill_due_timers(shared)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=ticker, args=(shared, AT.isoformat(), i, BATCH, pause, barrier, out))
        for i in range(WORKERS)
    ]
    results = run_processes(procs, out)
    fired = Counter(tuple(a) for r in results for a in r["actions"])
    assert fired == expected  # together, each action once: none twice, none missing
    if pause:  # batches that take a while overlap: more than one tick did some of the work
        assert sum(1 for r in results if r["actions"]) >= 2
    with _engine(shared) as check:
        events = _audit_events(check)
        assert max(events.values()) == 1  # no action written twice
        assert check.verify_audit(deep=True).ok
        assert check.tick(AT).actions == ()  # nothing left due


def test_a_tick_killed_mid_batch_leaves_nothing_locked_and_the_next_tick_does_the_work(
    tmp_path: Any,
) -> None:
    alone = store_for(tmp_path / "alone.db")
    expected = _alone(alone)
    with _engine(alone) as done_alone:
        events_alone = _audit_events(done_alone)
    shared = store_for(tmp_path / "shared.db")
    fill_due_timers(shared)
    ctx = multiprocessing.get_context("spawn")
    inside = ctx.Event()
    proc = ctx.Process(target=held_ticker, args=(shared, AT.isoformat(), BATCH, inside))
    proc.start()
    try:
        assert inside.wait(120), "the tick never reached its first escalation"
        with _engine(shared) as look:
            assert _locks_of_others(look)  # it holds its batch's dossiers (and the audit head)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == -signal.SIGKILL
    with _engine(shared) as after:
        # The server undoes the dead session's transaction when its connection drops; this
        # tick waits (busy_timeout) for anything still held, then does the rest of the work:
        # the killed tick's earlier batches were committed, its last one is done again.
        report = after.tick(AT)
        fired = Counter((a.isoformat(), kind, code, step) for a, kind, code, step in report.actions)
        assert fired and not fired - expected
        assert any(kind == "escalated" for _, kind, _, _ in fired)  # the batch it died in
        assert _audit_events(after) == events_alone  # in all, what one tick alone writes
        assert after.verify_audit(deep=True).ok
        assert _locks_of_others(after) == []


def test_a_worker_killed_in_an_agency_call_holds_no_lock_and_its_step_is_taken_over(
    tmp_path: Any,
) -> None:
    url = store_for(tmp_path / "work.db")
    start = vn(2025, 3, 3, 9, 0)
    with Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(start),
        plugins=[FakeAgencies()],
        entry_points=False,
        services="worker",
    ) as engine:
        engine.load_procedure(KHAI_SINH)
        code = receive_birth(engine).code
        data = {"birth_certificate_no": "KS-01", "residence_registration_no": "TT-01"}
        for spec in ("reception", "register_birth", "register_residence"):
            step = next(s for s in engine.steps(code) if s.is_open and s.spec_id == spec)
            engine.complete(code, step.id, officer_of(engine, step.unit), data)
        # Left to a worker (services="worker"): the police's step.
        police = next(s for s in engine.steps(code) if s.spec_id == "record_residence")
        assert police.is_open and police.kind == "service"
    ctx = multiprocessing.get_context("spawn")
    inside = ctx.Event()
    proc = ctx.Process(target=held_worker, args=(url, start.isoformat(), inside))
    proc.start()
    try:
        assert inside.wait(120), "the worker never called the agency"
        with _engine(url) as look:
            # The call runs outside any transaction: nothing is locked while it waits.
            assert _locks_of_others(look) == []
            held = next(s for s in look.steps(code) if s.id == police.id)
            assert held.leased_by is not None and held.lease_until is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
    with Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(held.lease_until),
        plugins=[FakeAgencies()],
        entry_points=False,
        services="worker",
    ) as other:
        assert other.work(held.lease_until).count("done") == 0  # still the dead one's
        later = held.lease_until + timedelta(seconds=1)
        assert other.work(later).count("done") == 1  # its lease ran out: taken over
        done = next(s for s in other.steps(code) if s.id == police.id)
        assert not done.is_open
        assert other.verify_audit(deep=True).ok
