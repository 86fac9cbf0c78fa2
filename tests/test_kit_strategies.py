"""The test kit's strategies produce what they claim: instants at the working-day boundaries and
holiday edges, durations in a calendar's own days, organisations that are trees fit for the
escalation ladder, procedures that load with their shares within the deadline (or, asked to,
over it). Each claim is checked over many draws, and the rare shapes are found with ``find``,
which fails when a strategy never draws them.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from lienthong import FixedClock, Organisation, Status, WorkingCalendar
from lienthong.errors import ProcedureError
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import (
    DEMO_ROLES,
    ProcedureDraft,
    StubOperations,
    boundary_instants,
    calendars,
    depth,
    holiday_edges,
    instants,
    make_test_engine,
    organisations,
    procedure_drafts,
    procedures,
    run_dossier,
    working_durations,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEFAULT = WorkingCalendar.default()
BOUNDARIES = {time(8), time(12), time(13), time(15), time(17)}
START = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)


def draws(strategy: st.SearchStrategy, n: int = 400) -> list:
    """About ``n`` values of ``strategy``, the same ones every run. Drawn as lists of 20:
    hypothesis never runs a test twice on the same input, so single draws from a small domain
    would run out and leave the rest to the other branches of a ``one_of``."""
    seen: list = []

    @settings(
        max_examples=max(1, n // 20),
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(strategy, min_size=min(n, 20), max_size=min(n, 20)))
    def collect(values: list) -> None:
        seen.extend(values)

    collect()
    return seen


def near_a_boundary(t: datetime) -> bool:
    m = t.hour * 60 + t.minute
    return any(abs(m - (b.hour * 60 + b.minute)) <= 1 for b in BOUNDARIES)


# -- instants --------------------------------------------------------------------------------------
def test_boundary_instants_fall_on_every_boundary_and_mostly_near_one() -> None:
    seen = draws(boundary_instants(years=(2025, 2026)))
    assert all(t.tzinfo is VN_TZ and t.second == 0 and t.microsecond == 0 for t in seen)
    assert all(date(2024, 12, 31) <= t.date() <= date(2027, 1, 1) for t in seen)
    assert {t.time() for t in seen} >= BOUNDARIES
    assert {t.time() for t in seen} >= {time(7, 59), time(12, 1), time(16, 59), time(17, 1)}
    share = sum(map(near_a_boundary, seen)) / len(seen)
    assert share >= 0.6, share
    # The plain strategy is no substitute, which is why this one exists.
    plain = draws(instants(years=(2025, 2026)))
    assert sum(map(near_a_boundary, plain)) / len(plain) < 0.3


def test_boundary_instants_fall_on_holiday_edges() -> None:
    edges = set(holiday_edges(DEFAULT, years=(2025, 2026)))
    seen = draws(boundary_instants(years=(2025, 2026)))
    on_edges = [t for t in seen if t.date() in edges]
    assert len(on_edges) >= 0.2 * len(seen)
    # The last working day before Tết 2025 at its close, and the first one after at opening.
    find(
        boundary_instants(years=(2025, 2025)),
        lambda t: t == datetime(2025, 1, 24, 17, 0, tzinfo=VN_TZ),
    )
    find(
        boundary_instants(years=(2025, 2025)),
        lambda t: t.date() == date(2025, 2, 3) and t.time() == time(8, 0),
    )


def test_holiday_edges_are_the_days_around_the_days_off() -> None:
    edges = holiday_edges(DEFAULT, years=(2025, 2025))
    # Tết 2025: days off from Saturday 25/1 to Sunday 2/2.
    assert {date(2025, 1, 24), date(2025, 1, 25), date(2025, 2, 2), date(2025, 2, 3)} <= set(edges)
    assert date(2025, 1, 28) not in edges  # inside the run, not at its edge
    assert date(2025, 3, 7) not in edges and date(2025, 3, 8) not in edges  # a plain weekend
    worked = {d for d, _ in DEFAULT.weekend_workdays(2025)}
    for d in edges:
        before, after = d - timedelta(days=1), d + timedelta(days=1)
        works = DEFAULT.is_working_day
        at_a_change = works(d) != works(before) or works(d) != works(after)
        assert at_a_change or {before, d, after} & worked, d


def test_boundary_instants_follow_the_calendars_hours() -> None:
    cal = WorkingCalendar.default()
    hours = calendars(with_hours=True)
    for c in draws(hours, 30):
        marks = {t for p in c.periods for t in p} | {time(15)}
        seen = draws(boundary_instants(calendar=c, spread=0), 60)
        exact = [t for t in seen if t.time() in marks]
        assert len(exact) >= 0.5 * len(seen), (c.periods, len(exact))
    assert cal.periods  # the default calendar's hours are the 08:00-17:00 ones above


def test_boundary_instants_refuse_no_times() -> None:
    with pytest.raises(ValueError, match="at least one time"):
        boundary_instants(times=())


# -- durations -------------------------------------------------------------------------------------
@SETTINGS
@given(
    calendars(with_hours=True).flatmap(
        lambda c: st.tuples(st.just(c), working_durations(calendar=c, min_minutes=1, max_days=5))
    )
)
def test_working_durations_stay_within_the_calendars_days(pair: tuple) -> None:
    cal, minutes = pair
    assert 1 <= minutes <= max(1, 5 * cal.minutes_per_day)


def test_working_durations_hit_whole_and_half_days_of_the_calendar() -> None:
    # A seven-hour day: a strategy that counted days of 480 minutes would miss these.
    short = WorkingCalendar([_hours((time(7, 30), time(11, 30)), (time(13, 30), time(16, 30)))])
    assert short.minutes_per_day == 420
    seen = draws(working_durations(calendar=short, max_days=10))
    assert all(0 <= m <= 4200 for m in seen)
    marks = [m for m in seen if m % 420 in (0, 1, 210, 419)]
    assert len(marks) >= 0.35 * len(seen)
    assert {m for m in seen if m % 420 == 0} - {0}, "no whole day drawn"
    # Whole days from a day's first instant end at the close of a working day.
    monday = datetime(2025, 3, 3, 7, 30, tzinfo=VN_TZ)
    for m in {m for m in seen if m and m % 420 == 0}:
        assert short.add_minutes(monday, m).time() == time(16, 30)


def test_working_durations_without_a_calendar_are_as_before() -> None:
    seen = draws(working_durations(max_days=2))
    assert all(0 <= m <= 960 for m in seen)


def _hours(*periods: tuple[time, time]):  # an overlay that sets only the working hours
    from lienthong.legaltime.overlays import Overlay

    return Overlay(days_off=[], working_days=[], periods=periods, origin="<test>")


# -- organisations ---------------------------------------------------------------------------------
@SETTINGS
@given(organisations())
def test_organisations_are_forests_fit_for_the_ladder(org: Organisation) -> None:
    parent = {u.code: u.parent for u in org.units.values()}
    roots = [c for c, p in parent.items() if p is None]
    assert 1 <= len(roots) <= 3 and 1 <= len(parent) <= 12
    for code in parent:
        seen, at = [code], parent[code]
        while at is not None:  # walk up by hand: no cycle, no missing parent, at most 3 up
            assert at in parent and at not in seen, (code, seen)
            seen.append(at)
            at = parent[at]
        assert len(seen) <= 4 and seen[-1] in roots
        assert org.ancestors(code) == seen[1:]
    for role in DEMO_ROLES:
        assert len(org.units_with_role(role)) == 1, role
    for u in org.units.values():
        assert u.head is not None and org.officer(u.head).unit == u.code
        assert u.head not in u.deputies
        assert all(org.officer(d).unit == u.code for d in u.deputies)


def test_organisations_reach_every_shape_asked_for() -> None:
    find(organisations(), lambda o: max(depth(o, c) for c in o.units) == 3)
    find(organisations(), lambda o: sum(u.parent is None for u in o.units.values()) == 3)
    find(organisations(), lambda o: any(len(u.deputies) == 2 for u in o.units.values()))
    find(organisations(max_units=3, max_depth=1, max_roots=3), lambda o: len(o.units) == 3)
    headless = find(
        organisations(headless=True), lambda o: any(u.head is None for u in o.units.values())
    )
    assert all(headless.members(c) for c in headless.units)
    with pytest.raises(ValueError, match="max_roots"):
        organisations(min_units=5, max_depth=1, max_roots=3)


def test_a_deep_organisation_is_never_deeper_than_asked() -> None:
    for org in draws(organisations(max_units=30, max_depth=3, max_roots=1), 100):
        assert max(depth(org, c) for c in org.units) <= 2
        assert sum(u.parent is None for u in org.units.values()) == 1


# -- procedures ------------------------------------------------------------------------------------
@SETTINGS
@given(procedure_drafts())
def test_procedures_load_with_their_deadline_and_shares(draft: ProcedureDraft) -> None:
    engine = make_test_engine(clock=FixedClock(START))
    proc = engine.load_procedure(draft.bpmn())
    assert proc.code == draft.code
    assert proc.same_day == (draft.deadline == "same-day")
    assert proc.deadline_minutes == draft.deadline_minutes
    assert {s.id: s.share_minutes for s in proc.steps.values()} == {
        s.id: s.share_minutes for s in draft.steps
    }
    assert {s.id: s.role for s in proc.steps.values()} == {s.id: s.role for s in draft.steps}
    assert {lane.role for lane in proc.lanes.values() if lane.coordinating} == draft.coordinating
    assert draft.heaviest_minutes <= draft.deadline_minutes
    engine.close()


@SETTINGS
@given(procedure_drafts(overfull=True))
def test_overfull_procedures_are_refused_by_the_loader(draft: ProcedureDraft) -> None:
    assert draft.heaviest_minutes > draft.deadline_minutes
    engine = make_test_engine(clock=FixedClock(START))
    with pytest.raises(ProcedureError, match="more than the legal deadline"):
        engine.load_procedure(draft.bpmn())
    engine.close()


def test_procedures_reach_every_shape_asked_for() -> None:
    find(
        procedure_drafts(),
        lambda d: (
            d.heaviest_minutes == d.deadline_minutes and any(len(stage) == 3 for stage in d.stages)
        ),
    )
    find(procedure_drafts(), lambda d: d.heaviest_minutes < d.deadline_minutes)
    find(procedure_drafts(), lambda d: any(s.share_minutes == 0 for s in d.steps[1:-1]))
    find(procedure_drafts(same_day=True), lambda d: len(d.steps) >= 6)
    assert all(d.deadline == "same-day" for d in draws(procedure_drafts(same_day=True), 30))
    assert all(d.deadline != "same-day" for d in draws(procedure_drafts(same_day=False), 30))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(procedure_drafts(), st.sampled_from([1, 2]))
def test_a_dossier_of_a_drawn_procedure_opens_its_branches_together_and_runs_to_the_end(
    draft: ProcedureDraft, channel: int
) -> None:
    clock = FixedClock(START)
    engine = make_test_engine(clock=clock)
    proc = engine.load_procedure(draft.bpmn())
    code = run_dossier(engine, clock, proc.code, channel=channel, until="step_1")
    first = draft.stages[1]
    opened = {s.spec_id for s in engine.open_steps(dossier=code)}
    assert opened == {branch[0].id for branch in first}
    run_dossier_rest(engine, clock, code)
    assert engine.dossier(code).status == Status.RETURNED
    assert [s.spec_id for s in engine.steps(code)].count("return_result") == 1
    engine.close()


def run_dossier_rest(engine, clock: FixedClock, code: str) -> None:
    proc = engine.procedure(engine.dossier(code).procedure_code)
    while not engine.dossier(code).is_closed:
        step = next(s for s in engine.open_steps(dossier=code) if s.kind == "user")
        clock.advance(minutes=30)
        data = {f: "1" for f in proc.steps[step.spec_id].required_fields}
        engine.complete(code, step.id, engine.org.members(step.unit)[0].id, data)


def test_procedures_gives_bytes_the_engine_loads() -> None:
    [bpmn] = draws(procedures(code="9.000001"), 1)
    assert isinstance(bpmn, bytes) and bpmn.startswith(b"<?xml")
    engine = make_test_engine(clock=FixedClock(START))
    assert engine.load_procedure(bpmn).code == "9.000001"
    engine.close()


# -- organisations and procedures together: the escalation ladder ----------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations(), procedure_drafts(same_day=False))
def test_an_overdue_step_climbs_its_units_ladder_to_the_top_one_head_at_a_time(
    org: Organisation, draft: ProcedureDraft
) -> None:
    clock = FixedClock(START)
    engine = make_test_engine(StubOperations({}), clock=clock, org=org)
    proc = engine.load_procedure(draft.bpmn())
    desk = org.units_with_role(draft.desk_role)[0].code
    d = engine.receive(
        proc.code,
        applicant={"name": "A"},
        receiving_unit=desk,
        documents=list(proc.required_documents),
    )
    [step] = [s for s in engine.open_steps(dossier=d.code) if s.kind == "user"]
    engine.tick(engine.calendar.add_minutes(step.due_at, 10 * 480))
    chain = [step.unit, *org.ancestors(step.unit)]
    rows = [
        r
        for r in engine.audit_rows(d.code)
        if r["event"] == "escalated"
        and r["step_id"] == step.id
        and not json.loads(r["data"] or "{}").get("one_stop_desk")
    ]
    assert [json.loads(r["data"])["level"] for r in rows] == list(range(1, len(chain) + 1))
    assert [r["to_unit"] for r in rows] == chain
    assert [r["to_officer"] for r in rows] == [org.unit(c).head for c in chain]
    instants_ = [datetime.fromisoformat(r["at"]) for r in rows]
    assert instants_[0] == step.due_at
    for a, b in itertools.pairwise(instants_):
        assert engine.calendar.between(a, b) == engine.calendar.minutes_per_day
    engine.close()
