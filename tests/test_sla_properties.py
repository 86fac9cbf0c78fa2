"""SLA properties over random dossier histories, through the public API.

Each example builds a fresh in-memory Engine (hypothesis and function-scoped fixtures do not mix),
receives one dossier of a sample procedure at a random instant of 2025–2026 (Tết, make-up
Saturdays and the New Year swap included) and plays a random history on it with
:mod:`lienthong.testing.dossiers`; the properties are assertions over the play's record.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lienthong import (
    Channel,
    Engine,
    FixedClock,
    Organisation,
    ResultClass,
    SlaError,
    Status,
    WorkingCalendar,
)
from lienthong.demo import DEMO_ORG
from lienthong.legaltime import rules
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import instants
from lienthong.testing.dossiers import (
    LONG_GAP_MINUTES,
    Advance,
    Apologise,
    Complete,
    EndObligation,
    History,
    Player,
    PlayRecord,
    ReceiveSupplement,
    RequestSupplement,
    StartObligation,
    Tick,
    dossier_histories,
    play,
)
from support import DESK, PROCESSES, FakeAgencies, officer_of, vn

CODES = ("233448", "1.013831", "1.013932")  # khai sinh (3 agencies), land transfer, archive
ORG = Organisation.from_file(DEMO_ORG)
CALENDAR = WorkingCalendar.default()  # immutable: shared by every example's engine
PAUSED = (Status.SUPPLEMENT_REQUESTED, Status.FINANCIAL_OBLIGATION)
TICK_EVENTS = {"warning": "warning", "escalated": "escalated",
               "apology_required": "apology_required", "supplement_expired": "supplement_expired"}

SETTINGS = settings(max_examples=80, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
starts = instants(years=(2025, 2026))


def fresh(start: datetime) -> tuple[Engine, FixedClock]:
    clock = FixedClock(start)
    engine = Engine(":memory:", org=ORG, clock=clock, calendar=CALENDAR,
                    plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedures(PROCESSES)
    return engine, clock


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def chain(engine: Engine, unit: str) -> list[str]:
    return [unit, *engine.org.ancestors(unit)]


def is_desk_report(row: Any) -> bool:
    return bool(row["data"] and json.loads(row["data"]).get("one_stop_desk"))


def level(row: Any) -> int:
    return int(json.loads(row["data"])["level"])


# -- a pause (financial obligation) --------------------------------------------------------------
paused_histories = st.tuples(st.integers(0, 4 * 480), st.booleans()).flatmap(
    lambda t: dossier_histories(CODES, min_actions=4, max_actions=16, blocks=[
        [Complete(0), StartObligation()],
        [Advance(t[0], working=t[1]), EndObligation()],
    ]))


@SETTINGS
@given(start=starts, history=paused_histories)
def test_a_pause_shifts_the_appointment_and_every_open_step_by_its_working_length(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    cal = engine.calendar
    for a in record.done(EndObligation):
        old, new = a.before.dossier, a.after.dossier
        assert old.paused_since is not None
        p = new.paused_minutes - old.paused_minutes
        assert p == cal.between(old.paused_since, a.at)
        [ended] = [r for r in a.audit if r["event"] == "obligation_ended"]
        assert json.loads(ended["data"])["paused_minutes"] == p
        pairs = [("appointment", old.appointment, new.appointment, p)]
        for s in a.before.open_steps:
            after = a.after.step(s.id)
            assert after is not None  # ending a pause closes nothing
            # No step completes during a pause, so none opened during it: each lived through
            # the whole of it (see the regression test at the end of this file).
            assert s.opened_at <= old.paused_since
            if s.share_minutes == 0:  # due with the dossier
                assert after.due_at == new.appointment
            pairs += [(f"step {s.id} due", s.due_at, after.due_at, p),
                      (f"step {s.id} warning", s.warn_at, after.warn_at, p),
                      (f"step {s.id} escalation", s.next_escalation_at,
                       after.next_escalation_at, p)]
        for what, o, n, shift in pairs:
            if o is None:
                assert n is None, what
                continue
            assert n is not None, what
            moved = cal.between(o, n)
            assert moved == shift, what
            if moved:
                assert n == cal.add_minutes(o, moved), what
            else:  # see test_a_zero_pause_leaves_the_appointment_alone
                assert n in (o, cal.add_minutes(o, 0)), what


# -- a supplement restarts the legal deadline (Decree 118/2025 Art 19(5)) -------------------------
supplement_histories = st.integers(0, 3 * 480).flatmap(
    lambda wait: dossier_histories(CODES, min_actions=4, max_actions=16, blocks=[
        [Complete(0), RequestSupplement(0)],
        [Advance(wait), ReceiveSupplement()],
    ]))


@SETTINGS
@given(start=starts, history=supplement_histories)
def test_after_a_supplement_the_appointment_is_the_full_deadline_from_its_receipt(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    cal = engine.calendar
    for a in record.done(ReceiveSupplement):
        d = a.after.dossier
        assert d.status == Status.PROCESSING
        assert d.appointment == rules.appointment(record.procedure, a.at, cal)
        assert d.original_appointment == a.before.dossier.original_appointment
        for s in a.after.open_steps:  # every open step gets its whole share again, from now
            due = rules.step_due(a.at, s.share_minutes, cal) if s.share_minutes else d.appointment
            assert s.due_at == due
            assert s.next_escalation_at == due and s.escalation_level == 0


# -- escalation: one level at a time, once each, one working day apart ----------------------------
@attrs.define
class Ladder:
    """Where a step's escalation should be: its last level and the instant of the next one."""

    level: int
    pending: datetime | None


def check_escalations(engine: Engine, record: PlayRecord) -> int:
    """Replay the record against a model of each step's escalation ladder; returns how many
    escalations were checked."""
    cal = engine.calendar
    day = cal.minutes_per_day
    ladders: dict[int, Ladder] = {}
    with_dossier: set[int] = set()  # steps without a share: due with the dossier
    checked = 0

    def track(snap: Any) -> None:
        for s in snap.open_steps:
            if s.id not in ladders:
                assert s.escalation_level == 0 and s.next_escalation_at == s.due_at
                ladders[s.id] = Ladder(0, s.due_at)
                if s.share_minutes == 0 and not (
                        s.step_kind == "reception" and snap.dossier.channel == Channel.ONLINE):
                    with_dossier.add(s.id)

    track(record.received.after)
    for a in record.applied:
        rows = [r for r in a.audit if r["event"] == "escalated"]
        if not isinstance(a.action, Tick):
            assert rows == [], f"{a.action} escalated"
        if a.done and isinstance(a.action, EndObligation):
            p = a.after.dossier.paused_minutes - a.before.dossier.paused_minutes
            since = a.before.dossier.paused_since
            for s in a.before.open_steps:
                lad = ladders[s.id]
                if lad.pending is None:
                    continue
                assert since is not None and s.opened_at <= since  # none opens in a pause
                after = a.after.step(s.id)
                assert after is not None and after.next_escalation_at is not None
                now_at = after.next_escalation_at
                moved = cal.between(lad.pending, now_at)
                assert moved == p  # see the pause property above
                lad.pending = cal.add_minutes(lad.pending, moved) if moved else now_at
        if a.done and isinstance(a.action, ReceiveSupplement):
            for s in a.after.open_steps:  # the deadline restarts: so does the ladder
                ladders[s.id] = Ladder(0, s.due_at)
        if a.done and isinstance(a.action, Apologise):
            for s in a.after.open_steps:  # due with the dossier: a new due, a new ladder
                if s.id in with_dossier:
                    assert s.due_at == a.after.dossier.appointment
                    ladders[s.id] = Ladder(0, s.due_at)
        if isinstance(a.action, Tick):
            desk_reports = Counter(r["step_id"] for r in rows if is_desk_report(r))
            first_levels = {r["step_id"] for r in rows if not is_desk_report(r) and level(r) == 1}
            assert set(desk_reports) <= first_levels
            for r in rows:
                if is_desk_report(r):
                    continue
                esc = a.before.step(r["step_id"])
                assert esc is not None, "escalated a step that was not open"
                lad = ladders[esc.id]
                lvl = level(r)
                assert lvl == lad.level + 1, f"step {esc.id}: level {lvl} after {lad.level}"
                assert lad.pending is not None and at(r["at"]) == lad.pending
                if lvl == 1:
                    assert at(r["at"]) == esc.due_at  # the first one at the due instant
                units = chain(engine, esc.unit)
                assert r["to_unit"] == units[lvl - 1]
                assert r["to_officer"] == engine.org.unit(units[lvl - 1]).head
                if lvl == 1:  # a coordinating agency's late reply is also reported to the desk
                    coordinating = any(lane.coordinating and lane.role == esc.role
                                       for lane in record.procedure.lanes.values())
                    assert desk_reports[esc.id] == (1 if coordinating else 0)
                lad.level = lvl
                lad.pending = cal.add_minutes(lad.pending, day) if lvl < len(units) else None
                checked += 1
            if a.after.dossier.status not in PAUSED and not a.after.dossier.is_closed:
                for s in a.after.open_steps:  # nothing due is left behind
                    pending = ladders[s.id].pending
                    assert pending is None or pending > a.at
        for s in a.after.open_steps:
            if s.id in ladders:
                assert s.escalation_level == ladders[s.id].level
                assert s.next_escalation_at == ladders[s.id].pending
        track(a.after)
    # Over the whole life, per step: 1, 2, 3, ... each once, restarting only with a supplement
    # or, for a step due with the dossier, an apology's new appointment.
    supplements = [r["id"] for r in record.audit if r["event"] == "supplement_received"]
    apologies = [r["id"] for r in record.audit if r["event"] == "apology"]
    for sid in ladders:
        restarts = sorted(supplements + (apologies if sid in with_dossier else []))
        levels = [(r["id"], level(r)) for r in record.audit
                  if r["event"] == "escalated" and r["step_id"] == sid and not is_desk_report(r)]
        for seg_start, seg_end in zip([0, *restarts], [*restarts, float("inf")], strict=True):
            seg = [lv for rid, lv in levels if seg_start < rid < seg_end]
            assert seg == list(range(1, len(seg) + 1)), f"step {sid}: levels {seg}"
    return checked


@settings(SETTINGS, max_examples=100)
@given(start=starts, history=dossier_histories(CODES, min_actions=8, max_actions=30, long_gaps=1,
                                                max_wall_minutes=3 * 24 * 60))
def test_escalation_never_skips_a_level_and_never_fires_twice(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    check_escalations(engine, record)


def test_escalation_model_sees_escalations() -> None:
    """The model above is not vacuous: an untouched land dossier climbs the desk's ladder."""
    engine, clock = fresh(vn(2025, 3, 3, 9, 0))
    history = History("1.013831", channel=Channel.DIRECT, actions=(
        Tick(), Advance(480), Tick(), Advance(LONG_GAP_MINUTES, working=False), Tick()))
    record = play(engine, clock, history)
    assert check_escalations(engine, record) == 2  # the desk, then the province


# -- tick is idempotent ----------------------------------------------------------------------------
@SETTINGS
@given(start=starts, history=dossier_histories(CODES, min_actions=8, max_actions=30, long_gaps=1))
def test_a_second_tick_at_the_same_instant_does_nothing(start: datetime, history: History) -> None:
    engine, clock = fresh(start)
    player = Player(engine, clock, history.procedure, channel=history.channel)
    player.receive()
    for action in history.actions:
        a = player.apply(action)
        if isinstance(action, Tick):
            rows = len(engine.audit_rows(player.record.code))  # type: ignore[union-attr]
            again = engine.tick(a.at)
            assert again.actions == ()
            assert len(engine.audit_rows(player.record.code)) == rows  # type: ignore[union-attr]
            assert player.snapshot() == a.after


# -- a long gap: one tick catches up, each action once, stamped with its own instant -------------
def expected_catch_up(engine: Engine, before: Any, now: datetime) -> Counter[tuple[str, int, str]]:
    """What a tick at ``now`` must do to the open steps of ``before``: every warning due, and
    each escalation level due, one working day apart."""
    out: Counter[tuple[str, int, str]] = Counter()
    if before.dossier.status in PAUSED or before.dossier.is_closed:
        return out
    cal = engine.calendar
    for s in before.open_steps:
        if s.warn_at is not None and s.warn_at <= now:
            out[("warning", s.id, s.warn_at.isoformat())] += 1
        lvl, t = s.escalation_level, s.next_escalation_at
        levels = len(chain(engine, s.unit))
        while t is not None and t <= now:
            out[("escalated", s.id, t.isoformat())] += 1
            lvl += 1
            t = cal.add_minutes(t, cal.minutes_per_day) if lvl < levels else None
    return out


def long_gap_ticks(record: PlayRecord) -> list[Any]:
    out = []
    for prev, a in zip(record.applied, record.applied[1:], strict=False):
        gap = prev.action
        if (isinstance(a.action, Tick) and isinstance(gap, Advance) and not gap.working
                and gap.minutes >= LONG_GAP_MINUTES):
            out.append(a)
    return out


@settings(SETTINGS, max_examples=100)
@given(start=starts, history=dossier_histories(CODES, min_actions=4, max_actions=20, long_gaps=1))
def test_after_a_long_gap_one_tick_fires_each_due_action_once_at_its_instant(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    [a] = long_gap_ticks(record)[:1]
    assert a.report is not None
    actions = a.report.actions
    assert len(set(actions)) == len(actions), "an action fired twice"
    assert all(t <= a.at for t, *_ in actions)
    # The audit rows are the report's actions, each stamped with the instant it fell due.
    rows = [r for r in a.audit if r["event"] in TICK_EVENTS and not is_desk_report(r)]
    assert Counter((TICK_EVENTS[r["event"]], r["step_id"], at(r["at"])) for r in rows) == Counter(
        (kind, step, t) for t, kind, _, step in actions)
    assert all(at(r["at"]) <= a.at for r in a.audit)
    # Exactly what fell due: every warning and every escalation level, none left behind.
    fired = Counter((k, step, t.isoformat()) for t, k, _, step in actions
                    if k in ("warning", "escalated"))
    expected = expected_catch_up(engine, a.before, a.at)
    assert fired == expected
    assert sum(1 for x in actions if x[1] == "apology_required") <= 1
    if a.before.dossier.apology_at is None or a.before.dossier.apology_at > a.at:
        assert all(x[1] != "apology_required" for x in actions)


def land_dossier_left_alone() -> tuple[Engine, Any, datetime]:
    """A land-transfer dossier received Monday 3/3/2025 09:00 that nobody touches for two weeks."""
    engine, _ = fresh(vn(2025, 3, 3, 9, 0))
    proc = engine.procedure("1.013831")
    d = engine.receive(proc.code, applicant={"name": "A"}, receiving_unit=DESK,
                       documents=list(proc.required_documents))
    return engine, d, vn(2025, 3, 17, 9, 0)


def test_after_a_long_gap_the_tick_acts_in_order_of_instant() -> None:
    engine, d, now = land_dossier_left_alone()
    report = engine.tick(now)
    instants_ = [t for t, *_ in report.actions]
    stamps = [at(r["at"]) for r in engine.audit_rows(d.code)]
    assert [k for _, k, *_ in report.actions] == [
        "warning", "escalated", "escalated", "apology_required"]
    assert instants_ == sorted(instants_)
    assert stamps == sorted(stamps)


# -- classification ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(finished=instants(), due=instants(), seconds=st.integers(0, 59),
       zone=st.sampled_from(["Asia/Ho_Chi_Minh", "UTC", "America/New_York"]))
@example(finished=vn(2025, 3, 6, 17, 0), due=vn(2025, 3, 6, 17, 0), seconds=0,
         zone="Asia/Ho_Chi_Minh")
@example(finished=vn(2025, 3, 6, 17, 0), due=vn(2025, 3, 6, 17, 0), seconds=1, zone="UTC")
@example(finished=vn(2025, 3, 5, 23, 59), due=vn(2025, 3, 6, 0, 0), seconds=0, zone="UTC")
def test_classification_early_on_time_late(
    finished: datetime, due: datetime, seconds: int, zone: str
) -> None:
    from zoneinfo import ZoneInfo

    finished = finished.replace(second=seconds).astimezone(ZoneInfo(zone))
    got = rules.classify(finished, due)
    early = finished.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date()
    assert (got == ResultClass.EARLY) == early
    assert (got == ResultClass.LATE) == (finished > due)
    assert (got == ResultClass.ON_TIME) == (not early and finished <= due)
    assert rules.classify(finished, None) is None


# -- regressions: bugs these properties found, fixed in timers.py ----------------------------
def test_a_zero_pause_leaves_the_appointment_alone() -> None:
    """An obligation set after hours and paid before the next morning lasted 0 working minutes:
    the appointment printed on the receipt must not move to the next day."""
    engine, clock = fresh(vn(2025, 3, 3, 8, 0))  # Monday
    d = engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK,
                       documents=["to_khai_lien_thong", "giay_chung_sinh"])
    assert d.appointment == vn(2025, 3, 5, 17, 0)  # 3 working days: Wednesday 17:00
    [reception] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 9, 0))
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    [birth] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 17, 30))
    engine.start_obligation(d.code, officer=officer_of(engine, DESK))
    clock.set(vn(2025, 3, 3, 20, 0))
    d = engine.end_obligation(d.code)
    assert d.paused_minutes == 0
    assert d.appointment == vn(2025, 3, 5, 17, 0)
    assert engine.step(d.code, birth.id).due_at == birth.due_at


def test_no_step_completes_during_a_pause_so_none_opens_during_one() -> None:
    """This test once completed the commune's step during the pause and checked that the police
    step it opened gained only the part of the pause it lived through. The step may no longer
    complete then (no step completes while the applicant pays): it completes after the pause,
    and what it opens gets its whole share from then."""
    engine, clock = fresh(vn(2025, 3, 3, 9, 0))  # Monday
    d = engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK,
                       documents=["to_khai_lien_thong", "giay_chung_sinh"])
    [reception] = engine.open_steps(dossier=d.code)
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    [birth] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.start_obligation(d.code, officer=officer_of(engine, DESK))
    clock.set(vn(2025, 3, 4, 10, 0))  # the commune tries to register the birth during the pause
    with pytest.raises(SlaError, match=r"status 6, Yêu cầu thực hiện nghĩa vụ tài chính"):
        engine.complete(d.code, birth.id, officer_of(engine, birth.unit),
                        {"birth_certificate_no": "KS-1"})
    assert engine.step(d.code, birth.id).is_open
    assert engine.dossier(d.code).status == Status.FINANCIAL_OBLIGATION
    clock.set(vn(2025, 3, 5, 10, 0))
    d = engine.end_obligation(d.code)
    assert d.paused_minutes == 960  # Monday 10:00 to Wednesday 10:00
    assert engine.step(d.code, birth.id).due_at == vn(2025, 3, 6, 9, 0)  # 1 day + the pause
    engine.complete(d.code, birth.id, officer_of(engine, birth.unit),
                    {"birth_certificate_no": "KS-1"})
    [residence] = [s for s in engine.open_steps(dossier=d.code)
                   if s.spec_id == "register_residence"]
    assert residence.due_at == vn(2025, 3, 7, 10, 0)  # 2 working days from Wednesday 10:00
