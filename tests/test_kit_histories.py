"""The dossier histories of the test kit: the actions added with issue 10 (claim, withdraw,
refuse, deputies, restart, a start instant) do what they say, are drawn only when asked for, and a
history with restarts leaves the engine exactly as the same history without them
(``assert_same_state``, which sees through SpiffWorkflow's random task ids)."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from lienthong import Engine, FixedClock, Status
from lienthong.testing import (
    Apologise,
    Claim,
    Complete,
    History,
    Refuse,
    Restart,
    StubOperations,
    Tick,
    Withdraw,
    assert_same_state,
    boundary_instants,
    comparable_state,
    dossier_histories,
    make_test_engine,
    play,
)
from lienthong.testing.actions import Advance
from support import ARCHIVE, DESK, PROCESSES, vn

CODES = ("233448", "1.013831", "1.013932", "DTP-QD138-D34")
AGENCIES = StubOperations(
    {
        "police.record_residence": {"residence_recorded": True},
        "social_insurance.issue_card": {"health_insurance_card": "TE1"},
        "tax.register_household": {"tax_registered": True},
    }
)
START = vn(2025, 3, 3, 9, 0)
ARCHIVE_UNIT = "000.01.05.H29"  # head dang.thi.thuy, deputy ngo.van.khai, officer trinh.thi.yen
NEW_KINDS = (Claim, Withdraw, Refuse, Restart)
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def engine_on(path: Path | str, clock: FixedClock, *, load: bool = True) -> Engine:
    return make_test_engine(AGENCIES, clock=clock, db=path, processes=[PROCESSES] if load else ())


def archive(history_actions: list, *, channel: int = 1) -> tuple[Engine, object]:
    clock = FixedClock(START)
    engine = make_test_engine(clock=clock, processes=[ARCHIVE])
    return engine, play(engine, clock, History("1.013932", channel, tuple(history_actions)))


# -- drawn only when asked for ---------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(dossier_histories(CODES, long_gaps=1))
def test_the_default_histories_hold_none_of_the_new_actions(history: History) -> None:
    assert history.start is None
    for a in history.actions:
        assert not isinstance(a, NEW_KINDS), a
        assert getattr(a, "by", None) in (None, "assignee", "head")


@settings(max_examples=60, deadline=None)
@given(
    dossier_histories(
        "1.013932", restarts=3, weights={"claim": 2, "withdraw": 1, "refuse": 1, "deputy": 2}
    )
)
def test_asked_for_they_are_drawn(history: History) -> None:
    assert sum(isinstance(a, Restart) for a in history.actions) == 3


def test_every_new_kind_is_drawn_when_weighted() -> None:
    from hypothesis import find

    weights = {"claim": 2, "withdraw": 1, "refuse": 1, "deputy": 2, "restart": 1}
    for kind in (Claim, Withdraw, Refuse, Restart):
        find(
            dossier_histories("1.013932", weights=weights),
            lambda h, k=kind: any(isinstance(a, k) for a in h.actions),
        )
    find(
        dossier_histories("1.013932", weights=weights),
        lambda h: any(getattr(a, "by", "") == "deputy" for a in h.actions),
    )


# -- each does what it says ------------------------------------------------------------------------
def test_a_claim_takes_the_step_for_the_officer_named_and_holds_it_against_others() -> None:
    engine, record = archive(
        [Complete(), Claim(by="member", officer=2), Claim(officer=1), Complete()]
    )
    claim, other, done = record.applied[1:]
    assert claim.done
    [step] = claim.after.open_steps
    assert (step.spec_id, step.assignee, step.status) == (
        "approve_registration",
        "trinh.thi.yen",
        "claimed",
    )
    assert other.outcome == "refused" and "claimed by trinh.thi.yen" in str(other.error)
    assert done.done and engine.step(record.code, step.id).closed_by == "trinh.thi.yen"
    engine.close()


def test_deputies_claim_complete_and_apologise_and_a_unit_without_one_is_skipped() -> None:
    engine, record = archive(
        [Complete(), Claim(by="deputy"), Complete(), Apologise(by="deputy"), Complete(by="head")]
    )
    claim, complete, apology, by_head = record.applied[1:]
    assert claim.after.open_steps[0].assignee == "ngo.van.khai"
    assert complete.done
    assert engine.step(record.code, claim.after.open_steps[0].id).closed_by == "ngo.van.khai"
    assert apology.done
    assert [r["from_officer"] for r in apology.audit if r["event"] == "apology"] == ["ngo.van.khai"]
    assert by_head.done
    assert engine.steps(record.code)[2].closed_by == "dang.thi.thuy"
    engine.close()
    # The commune's civil-status unit has no deputy: nothing to do, the engine is not called.
    clock = FixedClock(START)
    birth = make_test_engine(AGENCIES, clock=clock, processes=[PROCESSES])
    rec = play(birth, clock, History("233448", 1, (Complete(), Complete(by="deputy"))))
    assert rec.applied[0].done and rec.applied[1].outcome == "skipped"
    assert rec.applied[1].audit == ()
    birth.close()


def test_withdrawals_close_the_dossier_as_the_applicant_or_the_agency() -> None:
    engine, record = archive([Complete(), Withdraw(by="system")])
    assert record.last.dossier.status == Status.WITHDRAWN and record.last.open_steps == ()
    engine.close()
    engine, record = archive([Withdraw(by_agency=True, by="deputy"), Complete()])
    stop, after = record.applied
    assert stop.done and stop.after.dossier.status == Status.STOPPED
    assert [r["to_officer"] for r in stop.audit if r["event"] == "withdrawn"] == ["le.van.hung"]
    assert after.outcome == "skipped"  # closed
    engine.close()
    engine, record = archive(
        [
            Withdraw(
                by_agency=True,
                by="member",
            )
        ]
    )
    # The desk's first officer is its head, who may stop it.
    assert record.applied[0].done
    engine.close()


def test_a_refusal_at_reception_closes_an_online_dossier_and_needs_a_reception_step() -> None:
    engine, record = archive([Refuse(), Refuse()], channel=2)
    refused, again = record.applied
    assert refused.done and refused.after.dossier.status == Status.REFUSED
    assert again.outcome == "skipped"
    engine.close()
    engine, record = archive([Complete(), Refuse()], channel=2)
    assert record.applied[1].outcome == "skipped"  # reception done: no reception step open
    assert record.last.dossier.status == Status.PROCESSING
    engine.close()


@settings(max_examples=30, deadline=None)
@given(
    dossier_histories(
        "1.013932", min_actions=0, max_actions=3, start=boundary_instants(years=(2025, 2026))
    )
)
def test_a_history_with_a_start_arrives_then(history: History) -> None:
    clock = FixedClock(START)
    engine = make_test_engine(clock=clock, processes=[ARCHIVE])
    record = play(engine, clock, history)
    assert isinstance(history.start, datetime)
    assert record.received.at == history.start == record.received.after.dossier.arrived_at
    engine.close()


# -- restarts --------------------------------------------------------------------------------------
@SETTINGS
@given(
    dossier_histories(
        CODES,
        restarts=2,
        max_actions=14,
        long_gaps=1,
        weights={"claim": 1, "withdraw": 1, "refuse": 1, "deputy": 1},
        start=boundary_instants(years=(2025, 2026)),
    )
)
def test_a_restart_mid_history_changes_nothing(history: History) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock_a, clock_b = FixedClock(START), FixedClock(START)
        first = engine_on(Path(tmp) / "a.db", clock_a)
        record = play(
            first,
            clock_a,
            history,
            reopen=lambda: engine_on(Path(tmp) / "a.db", clock_a, load=False),
        )
        plain = attrs.evolve(
            history, actions=tuple(a for a in history.actions if not isinstance(a, Restart))
        )
        other = engine_on(Path(tmp) / "b.db", clock_b)
        baseline = play(other, clock_b, plain)
        # It did restart: twice, each time on a new engine, and the restart itself wrote nothing.
        restarts = record.done(Restart)
        assert len(restarts) == 2 and record.engine is not first
        assert all(r.audit == () and r.before == r.after for r in restarts)
        kept = [a for a in record.applied if not isinstance(a.action, Restart)]
        assert [(a.action, a.outcome, a.at) for a in kept] == [
            (a.action, a.outcome, a.at) for a in baseline.applied
        ]
        assert_same_state(record.engine, baseline.engine)
        assert record.engine.verify_audit().ok
        record.engine.close()
        other.close()


def test_a_restart_needs_a_reopen_on_the_same_file() -> None:
    with pytest.raises(ValueError, match="reopen="):
        archive([Complete(), Restart()])
    clock = FixedClock(START)
    engine = make_test_engine(clock=clock, processes=[ARCHIVE])
    with pytest.raises(ValueError, match="not ':memory:'"):
        play(
            engine,
            clock,
            History("1.013932", 1, (Restart(),)),
            reopen=lambda: make_test_engine(clock=clock),
        )
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_test_engine(clock=clock, processes=[ARCHIVE], db=Path(tmp) / "x.db")
        with pytest.raises(ValueError, match="clock"):
            play(
                engine,
                clock,
                History("1.013932", 1, (Restart(),)),
                reopen=lambda: make_test_engine(clock=FixedClock(START), db=Path(tmp) / "x.db"),
            )


# -- comparing states ------------------------------------------------------------------------------
def test_two_engines_that_lived_the_same_history_compare_equal_despite_their_task_ids() -> None:
    history = History("233448", 1, (Complete(), Advance(240), Complete(), Tick(), Complete()))
    engines, records = [], []
    for _ in range(2):
        clock = FixedClock(START)
        engine = make_test_engine(AGENCIES, clock=clock, processes=[PROCESSES])
        engines.append(engine)
        records.append(play(engine, clock, history))
    a, b = engines
    ids = [{s.task_id for s in e.steps(records[0].code)} for e in engines]
    assert ids[0] and not ids[0] & ids[1], "SpiffWorkflow's ids are random: they differ"
    assert comparable_state(a) == comparable_state(b)
    assert_same_state(a, b)
    labels = [s["task_id"] for s in comparable_state(a)["steps"]]
    assert labels == [f"task-{i}" for i in range(1, len(labels) + 1)]
    # One more command on one side: the difference is found and named.
    b.tick(b.calendar.add_minutes(START, 20 * 480))
    with pytest.raises(AssertionError, match=r"the engines' states differ: (steps|dossiers|audit)"):
        assert_same_state(a, b)
    for e in engines:
        e.close()


def test_a_missing_dossier_is_a_difference() -> None:
    clock = FixedClock(START)
    a = make_test_engine(clock=clock, processes=[ARCHIVE])
    b = make_test_engine(clock=clock, processes=[ARCHIVE])
    assert_same_state(a, b)
    a.receive(
        "1.013932",
        applicant={"name": "A"},
        receiving_unit=DESK,
        documents=["phieu_dang_ky_su_dung_tai_lieu"],
    )
    with pytest.raises(AssertionError, match=r"dossiers: 1 items != 0 items"):
        assert_same_state(a, b)
    a.close()
    b.close()
