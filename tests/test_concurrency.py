"""Four processes on one file at once: on the same dossier (all complete, or claim, its open step
together) and on dossiers of their own (each receives and works its own).

The workers (``concurrency_workers.py``) record every command's outcome: "ok" or the class of
what it raised. A race is started by a barrier, never by sleeping; every wait is bounded.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from concurrency_workers import open_engine, worker
from lienthong import Engine, LienthongError, Status, StoreBusy, StoreError
from lienthong.store import MIGRATIONS
from lienthong.testing.databases import store_for
from support import PROCESSES, officer_of, receive_birth, run_processes

#: The one-process tests below are about SQLite's own locks and errors.
sqlite_only = pytest.mark.sqlite_only

PROCESSES_AT_ONCE = 4
OWN_DOSSIERS = 8
#: The events of one dossier of the sample procedure run to its end (claims aside).
ONE_DOSSIER = {"received": 1, "handoff": 7, "returned": 1}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # A file, or (LIENTHONG_TEST_DB set) a schema on the PostgreSQL server: the same race.
    path = store_for(tmp_path_factory.mktemp("concurrency") / "shared.db")
    engine = open_engine(str(path))
    engine.load_procedures(PROCESSES)
    shared = receive_birth(engine, "Người nộp chung").code
    engine.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES_AT_ONCE)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(str(path), i, shared, OWN_DOSSIERS, barrier, out))
        for i in range(PROCESSES_AT_ONCE)
    ]
    started = time.perf_counter()
    results = run_processes(procs, out)
    outcomes = [dict(o, worker=r["index"]) for r in results for o in r["outcomes"]]
    check = open_engine(str(path))
    db = {
        "steps": list(check.db.query("SELECT * FROM steps ORDER BY id")),
        "audit": list(check.db.query("SELECT * FROM audit ORDER BY id")),
        "dossiers": list(check.db.query("SELECT * FROM dossiers ORDER BY code")),
    }
    # deep: four processes wrote to the shared dossier, each from what it kept of it
    verified = check.verify_audit(deep=True)
    check.close()
    return {
        "path": path,
        "shared": shared,
        "outcomes": outcomes,
        "seconds": time.perf_counter() - started,
        "verified": verified,
        **db,
    }


def test_no_error_is_raw_sqlite(run: dict[str, Any]) -> None:
    raw = [o for o in run["outcomes"] if not o["ours"]]
    assert raw == []


def test_creating_opening_and_loading_at_once_succeed(run: dict[str, Any]) -> None:
    start = [o for o in run["outcomes"] if o["race"] == "start"]
    assert len(start) == 3 * PROCESSES_AT_ONCE
    assert [o for o in start if o["outcome"] != "ok"] == []
    fresh = open_engine(f"{run['path']}.fresh")  # made by the workers: nothing to migrate
    migrations = [r[0] for r in fresh.db.execute("SELECT name FROM _migrations ORDER BY name")]
    fresh.close()
    assert migrations == [name for name, _ in MIGRATIONS]  # each applied once


def test_each_race_on_one_step_has_one_winner(run: dict[str, Any]) -> None:
    races: dict[tuple[str, str], list[str]] = {}
    for o in run["outcomes"]:
        if o["race"].startswith("round"):
            races.setdefault((o["race"], o["what"]), []).append(o["outcome"])
    # Four user steps before the return step: every round raced, and the claims on the desk's
    # steps (four officers there) too.
    assert len([k for k in races if k[1] == "complete"]) == 5
    assert len([k for k in races if k[1] == "claim"]) == 2
    for key, got in races.items():
        assert len(got) == PROCESSES_AT_ONCE, key
        assert got.count("ok") == 1, (key, got)
        # The losers are told what happened: the step was closed (the dossier too, after the
        # return step), or another officer claimed it.
        assert set(got) - {"ok"} <= {"StepClosed", "DossierClosed", "NotAllowed"}, (key, got)


def test_no_step_is_completed_twice(run: dict[str, Any]) -> None:
    by_dossier: dict[str, list[dict[str, Any]]] = {}
    for s in run["steps"]:
        by_dossier.setdefault(s["dossier"], []).append(s)
    for code, steps in by_dossier.items():
        specs = [s["spec_id"] for s in steps]
        assert len(specs) == len(set(specs)) == 7, code  # no step opened again by a replay
        assert {s["status"] for s in steps} == {"done"}, code
    shared = run["shared"]
    events = Counter(r["event"] for r in run["audit"] if r["dossier"] == shared)
    assert events == {**ONE_DOSSIER, "claimed": 2}


def test_every_success_is_stored(run: dict[str, Any]) -> None:
    steps = {s["id"]: s for s in run["steps"]}
    claimed = {(r["step_id"], r["to_officer"]) for r in run["audit"] if r["event"] == "claimed"}
    ok = [o for o in run["outcomes"] if o["outcome"] == "ok" and o["race"] != "start"]
    for o in ok:
        if o["what"] == "complete":
            s = steps[o["step"]]
            assert (s["dossier"], s["status"], s["closed_by"]) == (o["code"], "done", o["officer"])
        elif o["what"] == "claim":
            assert steps[o["step"]]["assignee"] == o["officer"]
            assert (o["step"], o["officer"]) in claimed
    received = [o for o in ok if o["what"] == "receive"]
    assert len(received) == PROCESSES_AT_ONCE * OWN_DOSSIERS
    dossiers = {d["code"]: d for d in run["dossiers"]}
    assert len(dossiers) == len(received) + 1
    for o in received:
        d = dossiers[o["code"]]
        assert d["applicant"] == f'{{"name": "Người nộp {o["worker"]}"}}'
        assert d["status"] == int(Status.RETURNED)
        events = Counter(r["event"] for r in run["audit"] if r["dossier"] == o["code"])
        assert events == ONE_DOSSIER


def test_no_dossier_code_is_given_twice(run: dict[str, Any]) -> None:
    codes = [o["code"] for o in run["outcomes"] if o["what"] == "receive"]
    assert len(codes) == len(set(codes)) == PROCESSES_AT_ONCE * OWN_DOSSIERS
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in [*codes, run["shared"]])
    assert numbers == list(range(1, len(numbers) + 1))  # one sequence, no gap, no repeat


def test_the_audit_chain_is_intact(run: dict[str, Any]) -> None:
    assert run["verified"].ok, run["verified"]
    assert [r["id"] for r in run["audit"]] == list(range(1, len(run["audit"]) + 1))


def test_it_takes_seconds(run: dict[str, Any]) -> None:
    # Spawning four interpreters is most of it; a lock waited on in vain would be 5 s a command.
    assert run["seconds"] < 60


# -- one process: what a command that meets a lock, or another SQLite error, raises -------------
def _counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("dossiers", "steps", "audit")
        )
    finally:
        conn.close()


@sqlite_only
def test_a_command_that_gets_no_lock_raises_store_busy(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(path, busy_timeout=0.2)
    engine.load_procedures(PROCESSES)
    code = receive_birth(engine).code
    before = _counts(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long command, or a tool's
    started = time.perf_counter()
    with pytest.raises(StoreBusy) as caught:
        receive_birth(engine)
    waited = time.perf_counter() - started
    message = str(caught.value)
    assert str(path) in message and "busy_timeout=0.2 s" in message
    assert "command waited 0." in message  # how long, to the tenth
    assert "nothing was stored" in message and "Run the command again" in message
    assert 0.2 <= waited < 5
    step = engine.open_steps(dossier=code)[0]  # reads do not wait: WAL readers see the last commit
    with pytest.raises(StoreBusy):
        engine.complete(code, step.id, officer_of(engine, step.unit))
    other.execute("ROLLBACK")
    other.close()
    assert _counts(path) == before
    receive_birth(engine)  # the lock is free again: so is the engine
    assert engine.verify_audit().ok


@sqlite_only
def test_a_write_on_a_stale_snapshot_is_store_busy(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    # A caller that opened a (deferred) transaction itself: the command joins it as a savepoint,
    # and SQLite refuses its write if another connection committed since it began
    # (SQLITE_BUSY_SNAPSHOT).
    path = tmp_path / "snapshot.db"
    engine = make_engine(path)
    engine.load_procedures(PROCESSES)
    other = make_engine(path)
    code = receive_birth(engine).code
    engine.db.conn.execute("BEGIN")
    engine.dossier(code)  # the snapshot starts at the first read
    receive_birth(other)
    step = engine.open_steps(dossier=code)[0]
    with pytest.raises(StoreBusy, match="SQLITE_BUSY_SNAPSHOT"):
        engine.complete(code, step.id, officer_of(engine, step.unit))
    engine.db.conn.execute("ROLLBACK")
    engine.complete(code, step.id, officer_of(engine, step.unit))
    assert engine.verify_audit().ok


@sqlite_only
@pytest.mark.parametrize("action", ["ABORT", "ROLLBACK"])
def test_other_sqlite_errors_inside_a_command_are_store_errors(
    make_engine: Callable[..., Engine], tmp_path: Path, action: str
) -> None:
    path = tmp_path / f"refuses-{action}.db"
    engine = make_engine(path)
    engine.load_procedures(PROCESSES)
    receive_birth(engine)
    before = _counts(path)
    # Something SQLite itself refuses in the middle of a command: here a trigger added behind
    # the engine's back (RAISE(ROLLBACK) also ends the transaction, savepoints included).
    engine.db.execute(
        f"CREATE TRIGGER refuse BEFORE INSERT ON steps BEGIN SELECT RAISE({action}, 'no'); END"
    )
    with pytest.raises(StoreError) as caught:
        receive_birth(engine)
    assert not isinstance(caught.value, StoreBusy)
    assert str(path) in str(caught.value) and "SQLITE_CONSTRAINT_TRIGGER" in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert not engine.db.conn.in_transaction
    assert _counts(path) == before
    engine.db.execute("DROP TRIGGER refuse")
    receive_birth(engine)  # the next command is not inside what is left of the failed one
    assert _counts(path)[0] == before[0] + 1


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True])
def test_busy_timeout_is_checked(make_engine: Callable[..., Engine], bad: object) -> None:
    with pytest.raises(LienthongError, match="busy_timeout"):
        make_engine(busy_timeout=bad)
