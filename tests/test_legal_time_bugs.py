"""Legal-time bugs found by properties over random dossier histories (issue 10, item 6).

Each property is written against :mod:`lienthong.testing.dossiers`; each was run against the code
before its fix and failed, with the minimal history hypothesis found kept as an ``@example`` (or
a hand-written test beside it), so the failure stays covered.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lienthong import Channel, Engine, FixedClock, Organisation, Status, WorkingCalendar
from lienthong.demo import DEMO_ORG
from lienthong.legaltime import rules
from lienthong.testing import calendars, instants, working_durations
from lienthong.testing.dossiers import (
    Advance,
    Apologise,
    Complete,
    EndObligation,
    History,
    PlayRecord,
    ReceiveSupplement,
    RequestSupplement,
    Snapshot,
    StartObligation,
    Tick,
    dossier_histories,
    play,
)
from support import PROCESSES, FakeAgencies, vn

CODES = ("233448", "1.013831", "1.013932")
ORG = Organisation.from_file(DEMO_ORG)
CALENDAR = WorkingCalendar.default()
PAUSED = (Status.SUPPLEMENT_REQUESTED, Status.FINANCIAL_OBLIGATION)
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
starts = instants(years=(2025, 2026))


def fresh(start: datetime) -> tuple[Engine, FixedClock]:
    clock = FixedClock(start)
    engine = Engine(":memory:", org=ORG, clock=clock, calendar=CALENDAR,
                    plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedures(PROCESSES)
    return engine, clock


def snapshots(record: PlayRecord) -> list[Snapshot]:
    return [record.received.after, *(a.after for a in record.applied)]


# -- (a) the apology reminder lies after the clock starts and before the appointment -------------
@SETTINGS
@given(start=starts, history=dossier_histories(CODES, min_actions=0, max_actions=12))
@example(start=vn(2025, 1, 1, 0, 0),  # archive, 1 working day, received on New Year's Day
         history=History("1.013932", Channel.DIRECT, ()))
@example(start=vn(2025, 1, 24, 10, 0),  # archive, received in working time: at the receipt
         history=History("1.013932", Channel.DIRECT, ()))
def test_the_apology_reminder_is_after_the_clock_starts_and_before_the_appointment(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    for snap in snapshots(record):
        d = snap.dossier
        if d.apology_at is None or d.apology_issued_at is not None:
            continue
        assert d.clock_start is not None and d.appointment is not None
        assert d.clock_start < d.apology_at < d.appointment, (
            f"reminder {d.apology_at}, clock start {d.clock_start}, appointment {d.appointment}")
        # ...and before the legal latest instant, not at it (added with the fix: the column
        # did not exist before).
        assert d.apology_required_at is not None
        assert d.apology_at < d.apology_required_at < d.appointment


@settings(max_examples=300, deadline=None)
@given(cal=calendars(years=(2025, 2026), with_hours=True), received=instants(years=(2025, 2026)),
       minutes=working_durations(min_minutes=3, max_days=20), same_day=st.booleans())
@example(cal=CALENDAR, received=vn(2025, 1, 1, 0, 0), minutes=480, same_day=False)
@example(cal=CALENDAR, received=vn(2025, 1, 24, 16, 59), minutes=3, same_day=False)
def test_the_apology_instants_for_every_deadline_and_calendar(
    cal: WorkingCalendar, received: datetime, minutes: int, same_day: bool
) -> None:
    """The pure rule under the property above: the clock's start < the reminder < the latest
    instant < the appointment, the latest instant one working day before the appointment (half
    the deadline when that is two working days or less), and the latest such instant."""
    start = cal.next_working_instant(received)
    appointment = cal.same_day_due(received) if same_day else cal.add_minutes(start, minutes)
    span = cal.between(start, appointment)
    reminder, latest = rules.apology_instants(start, appointment, cal)
    assert cal.between(latest, appointment) == min(cal.minutes_per_day, span // 2)
    assert cal.is_working_time(latest) or latest == start
    if span >= 3:
        assert reminder is not None
        assert start < reminder < latest < appointment


# -- (b) while the applicant supplements or pays, no step completes -------------------------------
@SETTINGS
@given(start=starts, history=dossier_histories(CODES, min_actions=4, max_actions=16, blocks=[
    [Complete(0), StartObligation(), Complete(0)],
    [Complete(0), RequestSupplement(0), Complete(0)],
]))
@example(start=vn(2025, 3, 3, 9, 0), history=History(
    "233448", Channel.DIRECT, (Complete(), StartObligation(), Complete(), Complete(), Complete(),
                               EndObligation())))
def test_no_step_completes_while_the_applicant_supplements_or_pays(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    for a in record.applied:
        if isinstance(a.action, Complete) and a.before.dossier.status in PAUSED:
            assert a.outcome != "done", f"a step completed in status {a.before.dossier.status}"
            assert a.after.dossier.status == a.before.dossier.status
    for a in record.done(EndObligation):
        assert a.after.dossier.paused_since is None


# -- (c) a step without a share is due with the dossier, pause or not, after an apology too -------
def due_with_dossier(snap: Snapshot) -> list[tuple[int, datetime | None]]:
    """The open steps without a share of their own (an online reception step has its 8 hours)."""
    d = snap.dossier
    return [(s.id, s.due_at) for s in snap.open_steps if s.share_minutes == 0
            and not (s.step_kind == "reception" and d.channel == Channel.ONLINE)]


@SETTINGS
@given(start=starts, history=dossier_histories(CODES, min_actions=4, max_actions=20, blocks=[
    [Complete(0), StartObligation()],
    [Advance(480), EndObligation()],
    [Apologise(480)],
]))
@example(start=vn(2025, 1, 6, 9, 0), history=History(
    "1.013831", Channel.DIRECT, (Complete(), Complete(), Apologise(480))))
def test_a_step_without_a_share_is_due_with_the_dossier(start: datetime, history: History) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    for snap in snapshots(record):
        if snap.dossier.is_closed:
            continue
        for step_id, due in due_with_dossier(snap):
            assert due == snap.dossier.appointment, (
                f"step {step_id} due {due}, dossier due {snap.dossier.appointment}")


def test_a_shareless_step_opened_during_a_pause_cannot_fall_out_of_step() -> None:
    """Land 1.013831, as the issue found it: the tax office's step (no share) opened while the
    dossier was paused and ended due a day before the dossier. The step cannot open then any
    more (no step completes during a pause), and the one that is open moves with the dossier."""
    engine, clock = fresh(vn(2025, 1, 6, 8, 0))
    history = History("1.013831", Channel.DIRECT, (
        Complete(), StartObligation(), Advance(480), Complete(), Advance(480), EndObligation()))
    record = play(engine, clock, history)
    for snap in snapshots(record):
        for _step_id, due in due_with_dossier(snap):
            assert due == snap.dossier.appointment


# -- (d) no apology for an online dossier not yet accepted ----------------------------------------
@SETTINGS
@given(start=starts, history=dossier_histories(
    CODES, channels=(Channel.ONLINE,), min_actions=0, max_actions=8,
    blocks=[[Apologise(480)]]))
@example(start=vn(2025, 3, 3, 9, 0),
         history=History("233448", Channel.ONLINE, (Apologise(480),)))
def test_no_apology_before_an_online_dossier_is_accepted(start: datetime, history: History) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    for a in record.applied:
        if isinstance(a.action, Apologise) and a.before.dossier.appointment is None:
            assert a.outcome != "done", "an apology with no appointment to move was accepted"
            assert a.after.dossier.apology_issued_at is None


def test_the_tick_sees_no_apology_before_acceptance() -> None:
    engine, clock = fresh(vn(2025, 3, 3, 9, 0))
    record = play(engine, clock, History("1.013932", Channel.ONLINE, (
        Advance(480), Tick(), ReceiveSupplement())))
    assert record.last.dossier.apology_at is None
