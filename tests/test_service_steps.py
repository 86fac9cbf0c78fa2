"""Service steps run outside the database transaction (DESIGN.md, "How data flows" item 4).

The sample procedure (233448) has two service steps a dossier: ``record_residence`` (the
police's system) after ``register_residence``, and ``issue_card`` (social insurance) after
``review_card``. The agency below blocks on a ``threading.Event`` where a test needs a slow call,
and every instant a worker acts at is injected: nothing here sleeps.

* the slow call holds no lock: another engine on the file commits while it is blocked;
* a result that comes back after the dossier changed is discarded, audited, and the step runs
  again with the new data; what the operation wrote goes with the discarded result;
* a call past its timeout is abandoned, and its late result (and writes) ignored;
* a failure is on the step and in the audit, the officer's command returns normally; the
  worker retries with backoff at the instants given; after the last attempt only a person
  starts the step again;
* two workers never run one step twice; a dead runner's lease runs out and another takes over;
* retry() with corrected data, and correct_data(), are audited and refuse bad data;
* ``lienthong work --once``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lienthong import Engine, FixedClock, InvalidData, NotAllowed, PluginError, Status, hookimpl
from lienthong.engine.context import iso
from lienthong.store import jobs
from lienthong.testing.databases import store_for
from support import DESK, KHAI_SINH, PROCESSES, officer_of, receive_birth, snapshot, vn

POLICE_OP = "police.record_residence"
CARD_OP = "social_insurance.issue_card"
DATA = {"birth_certificate_no": "KS-01", "residence_registration_no": "TT-01"}
T0 = vn(2025, 3, 3, 9, 0)  # the clock fixture's instant


class Agency:
    """Performs both operations. An operation in ``slow`` waits for ``release`` (after setting
    ``started``); one in ``down`` raises; the police's needs ``residence_address`` when
    ``strict``; with ``writes``, each call first writes a row in the agency's own table."""

    __name__ = "agency"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.slow: set[str] = set()
        self.down: set[str] = set()
        self.strict = False
        self.writes = False
        self.started = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def operations(self) -> list[str]:
        return [POLICE_OP, CARD_OP]

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any, data: Any, db: Any) -> Any:
        self.calls.append((operation, dossier.code, dict(data)))
        if operation in self.slow:
            self.started.set()
            assert self.release.wait(30), "the test never released the agency"
        if operation in self.down:
            raise ConnectionError(f"{operation}: the agency's system does not answer")
        if self.writes:
            db["agency_log"].insert({"dossier": dossier.code, "operation": operation})
        if operation == POLICE_OP:
            if self.strict and not data.get("residence_address"):
                raise ValueError("no residence_address to register")
            return {"residence_recorded": True, "address": data.get("residence_address")}
        return {"health_insurance_card": "TE1290000000001"}


@pytest.fixture
def agency() -> Agency:
    return Agency()


@pytest.fixture
def make(make_engine: Callable[..., Engine], agency: Agency) -> Callable[..., Engine]:
    """An engine on the test's file with ``agency``; the first one loads the procedures."""

    def new(**kw: Any) -> Engine:
        kw.setdefault("plugins", [agency])
        engine = make_engine(**kw)
        engine.load_procedure(KHAI_SINH)
        return engine

    return new


def until_residence(engine: Engine, clock: FixedClock, name: str = "Nguyễn Văn An") -> str:
    """A dossier received and worked up to 'Đăng ký thường trú' (its police step): the code."""
    code = receive_birth(engine, name).code
    for spec in ("reception", "register_birth"):
        step = open_step(engine, code, spec)
        engine.complete(code, step.id, officer_of(engine, step.unit), DATA)
    return code


def open_step(engine: Engine, code: str, spec: str) -> Any:
    return next(s for s in engine.steps(code) if s.is_open and s.spec_id == spec)


def step_of(engine: Engine, code: str, spec: str) -> Any:
    return next(s for s in engine.steps(code) if s.spec_id == spec)


def finish_residence(engine: Engine, code: str) -> Any:
    """Complete 'Đăng ký thường trú', which opens the police's service step."""
    step = open_step(engine, code, "register_residence")
    return engine.complete(code, step.id, officer_of(engine, step.unit), DATA)


def events(engine: Engine, code: str, event: str) -> list[dict[str, Any]]:
    return [r for r in engine.audit_rows(code) if r["event"] == event]


def in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``fn`` in a thread; what it raised is in the list once the thread is joined."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


# ---------------------------------------------------------------------------------------------
# Outside the transaction
# ---------------------------------------------------------------------------------------------
def test_the_slow_agency_call_holds_no_lock(make, agency, clock, tmp_path):
    engine = make()
    code = until_residence(engine, clock)
    other = receive_birth(engine, "Trần Thị Cúc").code
    agency.slow.add(POLICE_OP)
    took: list[float] = []

    def meanwhile() -> None:
        # Another engine on the file (another application server) while the police's system
        # keeps the first one waiting.
        assert agency.started.wait(30)
        second = Engine(store_for(tmp_path / "lienthong.db"), org=engine.org, clock=clock,
                        plugins=[Agency()], entry_points=False)
        try:
            step = open_step(second, other, "reception")
            start = time.perf_counter()
            second.complete(other, step.id, officer_of(second, step.unit), DATA)
            took.append(time.perf_counter() - start)
        finally:
            agency.release.set()
            second.close()

    thread, errors = in_thread(meanwhile)
    d = finish_residence(engine, code)  # returns once the police step ran
    thread.join()
    assert errors == []
    assert took and took[0] < 2.0  # SQLite's busy timeout is 5 s: no wait for a lock
    assert open_step(engine, other, "register_birth")  # the other dossier moved on
    assert step_of(engine, code, "record_residence").status == "done"
    assert d.code == code and not any(s.spec_id == "record_residence"
                                      for s in engine.open_steps(dossier=code))


def test_a_result_that_comes_back_after_the_dossier_changed_is_discarded(make, agency, clock,
                                                                         tmp_path):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    agency.slow.add(POLICE_OP)
    agency.writes = True

    def meanwhile() -> None:
        assert agency.started.wait(30)
        desk = Engine(store_for(tmp_path / "lienthong.db"), org=engine.org, clock=clock,
                      plugins=[Agency()], entry_points=False)
        try:
            desk.correct_data(code, officer=officer_of(desk, DESK), reason="Địa chỉ thiếu số nhà",
                              data={"residence_address": "Số 5, thôn 2"})
        finally:
            agency.release.set()
            desk.close()

    thread, errors = in_thread(meanwhile)
    report = engine.work()
    thread.join()
    assert errors == []

    assert [o.outcome for o in report.outcomes] == ["discarded", "done"]
    [discarded] = events(engine, code, "service_result_discarded")
    step = step_of(engine, code, "record_residence")
    assert discarded["step_id"] == step.id
    assert "the dossier changed while the operation ran" in discarded["note"]
    # The second run had the corrected data; only its result and its writes were kept.
    assert [c[2].get("residence_address") for c in agency.calls] == [None, "Số 5, thôn 2"]
    assert step.status == "done" and step.data["address"] == "Số 5, thôn 2"
    assert engine.db["agency_log"].count == 1
    assert engine.verify_audit().ok


def test_a_call_past_its_timeout_is_abandoned_and_its_late_result_ignored(make, agency, clock):
    engine = make(service_timeouts={POLICE_OP: 0.05})
    code = until_residence(engine, clock)
    agency.slow.add(POLICE_OP)
    agency.writes = True
    d = finish_residence(engine, code)  # does not raise: the officer's work is committed

    step = step_of(engine, code, "record_residence")
    assert step.is_open and step.status == "failed" and step.attempts == 1
    assert "did not answer within 0.05 s" in step.last_error
    assert "abandoned" in step.last_error
    assert step.next_attempt_at == T0 + timedelta(seconds=60)
    assert d.status == Status.PROCESSING
    assert open_step(engine, code, "review_card")  # the other branch is there to work

    # The abandoned call ends: what it returns and what it wrote are dropped.
    agency.release.set()
    [stuck] = [t for t in threading.enumerate() if t.name.startswith("lienthong operations (")]
    stuck.join(30)
    assert not stuck.is_alive()
    assert not engine.db["agency_log"].exists() or engine.db["agency_log"].count == 0
    assert engine.step(code, step.id) == step
    [failed] = events(engine, code, "service_failed")
    assert failed["note"] == step.last_error


# ---------------------------------------------------------------------------------------------
# Failures and retries
# ---------------------------------------------------------------------------------------------
def test_a_failure_is_on_the_step_and_in_the_audit_and_the_command_returns(make, agency, clock):
    engine = make()
    code = until_residence(engine, clock)
    agency.down.add(POLICE_OP)
    d = finish_residence(engine, code)

    assert d.status == Status.PROCESSING
    [police] = [s for s in engine.open_steps(dossier=code) if s.kind == "service"]
    assert (police.spec_id, police.status, police.attempts) == ("record_residence", "failed", 1)
    assert "ConnectionError" in police.last_error and "'agency'" in police.last_error
    assert police.next_attempt_at == T0 + timedelta(seconds=60)
    assert police.leased_by is None
    [failed] = events(engine, code, "service_failed")
    assert failed["step_id"] == police.id and failed["note"] == police.last_error
    assert '"attempts": 1' in failed["data"]
    assert step_of(engine, code, "register_residence").status == "done"  # the officer's work


def test_the_worker_retries_with_backoff_at_the_instants_given(make, agency, clock):
    engine = make(services="worker", service_backoff=60)
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert police.status == "open" and police.next_attempt_at == T0 and agency.calls == []

    agency.down.add(POLICE_OP)
    report = engine.work(T0)
    assert [(o.outcome, o.next_attempt_at) for o in report.outcomes] == [
        ("failed", T0 + timedelta(seconds=60))]
    assert report.next_due == T0 + timedelta(seconds=60)
    assert engine.work(T0 + timedelta(seconds=59)).outcomes == ()
    report = engine.work(T0 + timedelta(seconds=60))
    assert [(o.outcome, o.next_attempt_at) for o in report.outcomes] == [
        ("failed", T0 + timedelta(seconds=180))]  # waits twice as long
    assert engine.step(code, police.id).attempts == 2

    agency.down.clear()
    assert engine.work(T0 + timedelta(seconds=179)).outcomes == ()
    assert engine.work(T0 + timedelta(seconds=180)).count("done") == 1
    police = engine.step(code, police.id)
    assert police.status == "done" and police.attempts == 2 and police.next_attempt_at is None
    assert len(agency.calls) == 3
    assert [r["data"] for r in events(engine, code, "service_failed")] == [
        f'{{"attempts": 1, "next_attempt_at": "{iso(T0 + timedelta(seconds=60))}"}}',
        f'{{"attempts": 2, "next_attempt_at": "{iso(T0 + timedelta(seconds=180))}"}}',
    ]


def test_after_the_last_attempt_only_a_person_starts_it_again(make, agency, clock):
    engine = make(services="worker", service_attempts=2, service_backoff=10)
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    agency.down.add(POLICE_OP)
    engine.work(T0)
    engine.work(T0 + timedelta(seconds=10))
    police = step_of(engine, code, "record_residence")
    assert (police.status, police.attempts, police.next_attempt_at) == ("failed", 2, None)
    assert engine.work(T0 + timedelta(days=30)).outcomes == ()

    agency.down.clear()
    d = engine.retry(code, police.id)
    assert engine.step(code, police.id).status == "done"
    assert d.status == Status.PROCESSING  # the social-insurance branch is still open


def test_retry_with_corrected_data(make, agency, clock):
    engine = make()
    agency.strict = True
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert police.status == "failed" and "no residence_address" in police.last_error

    before = snapshot(engine)
    for bad in ({"_hidden": 1}, {"residence_address": {1, 2}}, {"x": float("nan")}):
        with pytest.raises(InvalidData):
            engine.retry(code, police.id, data=bad)
    assert snapshot(engine) == before  # refused before anything was stored

    with pytest.raises(PluginError, match="no residence_address"):
        engine.retry(code, police.id)  # the same data fails the same way
    engine.retry(code, police.id, data={"residence_address": "Số 5, thôn 2"})
    police = engine.step(code, police.id)
    assert police.status == "done" and police.attempts == 2
    assert police.data == {"residence_recorded": True, "address": "Số 5, thôn 2"}
    [corrected] = events(engine, code, "data_corrected")
    assert corrected["step_id"] == police.id
    assert corrected["data"] == '{"residence_address": "Số 5, thôn 2"}'
    assert engine.verify_audit().ok


def test_correct_data_is_audited_and_runs_the_stuck_step_again(make, agency, clock):
    engine = make()
    agency.strict = True
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert police.status == "failed"
    desk = officer_of(engine, DESK)

    before = snapshot(engine)
    with pytest.raises(InvalidData, match="reason"):
        engine.correct_data(code, officer=desk, data={"residence_address": "x"}, reason=" ")
    with pytest.raises(InvalidData):
        engine.correct_data(code, officer=desk, data={"residence_address": b"x"}, reason="r")
    with pytest.raises(InvalidData):
        engine.correct_data(code, officer=desk, data={}, reason="r")
    with pytest.raises(NotAllowed):
        engine.correct_data(code, officer="no.such.officer", data={"a": 1}, reason="r")
    outsider = officer_of(engine, "000.01.41.H29")  # the commune's civil-status unit: done
    with pytest.raises(NotAllowed, match="may not correct"):
        engine.correct_data(code, officer=outsider, data={"a": 1}, reason="r")
    assert snapshot(engine) == before

    d = engine.correct_data(code, officer=desk, data={"residence_address": "Số 5, thôn 2"},
                            reason="Người nộp bổ sung địa chỉ thường trú")
    assert engine.step(code, police.id).status == "done"  # ran again right away
    [row] = events(engine, code, "data_corrected")
    assert (row["from_officer"], row["from_unit"]) == (desk, DESK)
    assert row["note"] == "Người nộp bổ sung địa chỉ thường trú"
    assert row["data"] == '{"residence_address": "Số 5, thôn 2"}'
    # Every later step sees it: the social-insurance operation gets it too.
    review = open_step(engine, code, "review_card")
    engine.complete(code, review.id, officer_of(engine, review.unit))
    assert agency.calls[-1][0] == CARD_OP
    assert agency.calls[-1][2]["residence_address"] == "Số 5, thôn 2"
    assert engine.dossier(code).status == Status.RESOLVED
    assert d.code == code and engine.verify_audit().ok


# ---------------------------------------------------------------------------------------------
# Workers and leases
# ---------------------------------------------------------------------------------------------
def test_two_workers_never_run_one_step_twice(make, agency, clock, tmp_path):
    first = make(services="worker")
    code = until_residence(first, clock)
    finish_residence(first, code)
    agency.slow.add(POLICE_OP)
    seen: list[Any] = []

    def second_worker() -> None:
        assert agency.started.wait(30)
        second = Engine(store_for(tmp_path / "lienthong.db"), org=first.org, clock=clock,
                        plugins=[agency], entry_points=False, services="worker")
        try:
            seen.append(second.work(T0 + timedelta(seconds=5)))
        finally:
            agency.release.set()
            second.close()

    thread, errors = in_thread(second_worker)
    report = first.work(T0)
    thread.join()
    assert errors == []
    assert seen[0].outcomes == ()  # the step was held by the first worker
    assert report.count("done") == 1
    assert [c[0] for c in agency.calls] == [POLICE_OP]


def test_one_claim_wins(make, clock):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    now, until = iso(T0), iso(T0 + timedelta(minutes=2))
    assert now is not None and until is not None
    with engine.store.transaction() as db:
        assert jobs.claim(db, police.id, "worker-a", now, until)
        assert not jobs.claim(db, police.id, "worker-b", now, until)
        assert jobs.claim(db, police.id, "worker-a", now, until)  # its own, again
    assert jobs.due(engine.db, now, 10) == []


def test_a_dead_workers_lease_runs_out(make, agency, clock):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    until = T0 + timedelta(minutes=2)
    with engine.store.transaction() as db:  # a worker took it, then its machine went down
        assert jobs.claim(db, police.id, "dead-worker", iso(T0) or "", iso(until) or "")

    assert engine.work(T0 + timedelta(minutes=1)).outcomes == ()
    assert engine.work(until).outcomes == ()  # still its own at the last instant
    assert engine.work(until + timedelta(seconds=1)).count("done") == 1
    assert engine.step(code, police.id).status == "done"
    assert len(agency.calls) == 1


def test_a_step_whose_engine_died_before_running_it_is_taken_over(make, agency, clock,
                                                                  monkeypatch, tmp_path):
    engine = make()  # inline: the step is held by this engine from the commit that opens it
    code = until_residence(engine, clock)
    monkeypatch.setattr(engine._services, "run_held", lambda *a, **k: [])  # dies right there
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert police.status == "open" and police.leased_by == engine._services.worker_id
    assert police.lease_until == T0 + timedelta(seconds=90)  # the 30 s timeout and a margin
    engine.close()

    worker = make(services="worker")
    assert worker.work(T0 + timedelta(seconds=90)).outcomes == ()
    assert worker.work(T0 + timedelta(seconds=91)).count("done") == 1
    assert worker.step(code, police.id).status == "done"


def test_in_worker_mode_commands_leave_the_calls_to_the_worker(make, agency, clock):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    d = finish_residence(engine, code)
    assert agency.calls == [] and d.status == Status.PROCESSING
    review = open_step(engine, code, "review_card")
    engine.complete(code, review.id, officer_of(engine, review.unit))
    report = engine.work(T0)
    assert sorted(c[0] for c in agency.calls) == [POLICE_OP, CARD_OP]
    assert report.count("done") == 2 and report.next_due is None
    assert engine.dossier(code).status == Status.RESOLVED


def test_a_paused_dossier_keeps_its_service_step_waiting(make, agency, clock):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    desk = officer_of(engine, DESK)
    engine.start_obligation(code, officer=desk, note="lệ phí")
    assert engine.work(T0).outcomes == () and agency.calls == []
    with pytest.raises(NotAllowed, match="paused"):
        engine.retry(code, step_of(engine, code, "record_residence").id)
    engine.end_obligation(code, officer=desk)
    assert engine.work(T0).count("done") == 1


# ---------------------------------------------------------------------------------------------
# On an in-memory store, and the command line
# ---------------------------------------------------------------------------------------------
def test_in_memory_the_operation_writes_and_its_result_commit_together(org, clock, agency):
    class FailsAfterTheCall:
        """The handoff after the police step raises once: the recording fails."""

        __name__ = "fails-once"
        armed = True

        @hookimpl
        def handoff(self, from_step: Any) -> None:
            if self.armed and from_step is not None and from_step.spec_id == "record_residence":
                self.armed = False
                raise RuntimeError("the portal sync is down")

    engine = Engine(":memory:", org=org, clock=clock, plugins=[agency, FailsAfterTheCall()],
                    entry_points=False)
    engine.load_procedure(KHAI_SINH)
    agency.writes = True
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert police.status == "failed" and "portal sync is down" in police.last_error
    assert not engine.db["agency_log"].exists()  # undone with the result it came with
    engine.retry(code, police.id)
    assert engine.db["agency_log"].count == 1
    assert engine.step(code, police.id).status == "done"


def test_lienthong_work_once(make, clock, tmp_path, monkeypatch):
    engine = make(services="worker")
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    engine.close()
    plugin = tmp_path / "plug"
    plugin.mkdir()
    (plugin / "agency_mod.py").write_text(
        "from lienthong import hookimpl\n\n"
        "@hookimpl\ndef operations():\n"
        f"    return [{POLICE_OP!r}, {CARD_OP!r}]\n\n"
        "@hookimpl\ndef perform_operation(operation):\n"
        "    return {'by_the_worker': operation}\n",
        encoding="utf-8",
    )
    info = plugin / "lienthong_agency-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lienthong-agency\n"
                                   "Version: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[lienthong]\nagency = agency_mod\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setenv("LIENTHONG_PLUGINS", "agency")

    from lienthong.cli import main

    db = store_for(tmp_path / "lienthong.db")
    result = CliRunner().invoke(main, ["work", "--db", db, "--once"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{code} done step ")  # the log line, the dossier first
    assert lines[-1] == "1 done, 0 failed"
    result = CliRunner().invoke(main, ["work", "--db", db, "--max-seconds", "0"])
    assert result.exit_code == 0 and result.output == "0 done, 0 failed\n"
    with Engine(db, org=str(Path(PROCESSES).parent / "src/lienthong/data/demo-org.toml"),
                entry_points=False) as after:
        assert step_of(after, code, "record_residence").data == {"by_the_worker": POLICE_OP}


def test_what_an_operation_writes_waits_for_its_result(tmp_path):
    """On a file store an operation's writes, whichever way it makes them, begin one transaction
    that the engine commits with the result or rolls back; reads begin nothing."""
    from lienthong.engine.calls import Calls
    from lienthong.store import Store

    store = Store(tmp_path / "calls.db")
    calls = Calls(store)

    def writes(db: Any) -> str:
        assert not db.conn.in_transaction  # nothing open when the call starts
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db["t"].insert({"x": 2})
        db.executescript("INSERT INTO t VALUES (3);\nINSERT INTO t VALUES (4);")
        return str(db.execute("SELECT count(*) FROM t").fetchone()[0])

    attempt = calls.call(writes, 5, "test")
    assert (attempt.result, attempt.wrote) == ("4", True)
    assert not store.db["t"].exists()  # the engine's connection sees nothing yet
    attempt.close()  # not recorded: rolled back
    assert not store.db["t"].exists()

    attempt = calls.call(writes, 5, "test")
    attempt.commit()
    attempt.close()
    assert store.db["t"].count == 4

    attempt = calls.call(lambda db: db.execute("SELECT count(*) FROM t").fetchone()[0], 5, "r")
    assert (attempt.result, attempt.wrote) == (4, False)
    attempt.close()
    calls.close()
    store.close()


def test_a_dossier_that_keeps_changing_is_left_to_the_worker(make, agency, clock):
    class Restless(Agency):
        """Moves the dossier's stored state on during every call (as another engine would)."""

        restless = True

        @hookimpl
        def perform_operation(self, operation: str, dossier: Any, data: Any, db: Any) -> Any:
            if self.restless:
                db.execute("UPDATE dossier_states SET rev = rev + 1 WHERE code = ?",
                           [dossier.code])
            return super().perform_operation(operation, dossier, data, db)

    restless = Restless()
    engine = make(plugins=[restless])
    code = until_residence(engine, clock)
    finish_residence(engine, code)
    police = step_of(engine, code, "record_residence")
    assert len(events(engine, code, "service_result_discarded")) == 3  # the first and 2 reruns
    assert (police.status, police.leased_by, police.next_attempt_at) == ("open", None, T0)
    restless.restless = False
    assert engine.work(T0).count("done") == 1


class LockingAgency(Agency):
    """The police's call fails while another process holds the write lock (``holder``)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.holder: list[Any] = []

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any, data: Any, db: Any) -> Any:
        if operation == POLICE_OP:
            import sqlite3

            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN IMMEDIATE")
            self.holder.append(conn)
            raise ConnectionError("the agency's system does not answer")
        return super().perform_operation(operation, dossier, data, db)


@pytest.mark.sqlite_only  # holds SQLite's write lock from a connection of its own
def test_a_failure_the_busy_store_cannot_record_leaves_the_step_to_its_lease(
    make, clock, tmp_path
):
    # The failure cannot be recorded (StoreBusy), and the officer's committed work must not
    # fail for it: the step stays leased, and runs again when the lease ends.
    locking = LockingAgency(str(tmp_path / "lienthong.db"))
    engine = make(plugins=[locking], busy_timeout=0.05)
    assert engine.store.path == locking.path
    code = until_residence(engine, clock)
    try:
        d = finish_residence(engine, code)
    finally:
        for conn in locking.holder:
            conn.rollback()
            conn.close()
    assert locking.holder, "the operation did not run"
    assert d.code == code
    assert step_of(engine, code, "register_residence").status == "done"
    police = step_of(engine, code, "record_residence")
    assert police.is_open and police.attempts == 0 and police.leased_by is not None
