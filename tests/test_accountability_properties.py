"""The accountability facts hold over random dossier histories (issue 10, items 1 and 2).

Each example plays one random life of a dossier of a sample procedure (lienthong.testing) and
checks the facts against the record of what happened: a step's ``first_overdue_at`` once set
never moves, the classes and the late minutes agree, an apology never moves the legal
appointment, the dossier's faults are the units the rule names.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, event, given, settings

from lienthong import Engine, FixedClock, Organisation, WorkingCalendar
from lienthong.demo import DEMO_ORG
from lienthong.testing import instants
from lienthong.testing.dossiers import Apologise, History, dossier_histories, play
from support import PROCESSES, FakeAgencies

CODES = ("233448", "1.013831", "1.013932")
ORG = Organisation.from_file(DEMO_ORG)
CALENDAR = WorkingCalendar.default()
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
histories = dossier_histories(CODES, min_actions=6, max_actions=30, long_gaps=1,
                              weights={"complete": 4, "apologise": 2})


def fresh(start: datetime) -> tuple[Engine, FixedClock]:
    clock = FixedClock(start)
    engine = Engine(":memory:", org=ORG, clock=clock, calendar=CALENDAR,
                    plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedures(PROCESSES)
    return engine, clock


@SETTINGS
@given(start=instants(years=(2025, 2026)), history=histories)
def test_the_facts_are_never_rewritten_and_agree_with_each_other(
    start: datetime, history: History
) -> None:
    engine, clock = fresh(start)
    record = play(engine, clock, history)
    cal = engine.calendar
    seen: dict[int, datetime] = {}
    for a in [record.received, *record.applied]:
        for s in engine.steps(record.code):
            if s.id in seen:  # set once, never cleared nor moved
                assert s.first_overdue_at == seen[s.id], f"step {s.id}"
            elif s.first_overdue_at is not None:
                seen[s.id] = s.first_overdue_at
        if isinstance(a.action, Apologise) and a.done:
            event("an apology accepted")
            before, after = a.before.dossier, a.after.dossier
            assert after.legal_appointment == before.legal_appointment
            assert after.apology_late == (a.at > before.apology_required_at)  # type: ignore[operator]
            assert after.apology_required_at == before.apology_required_at
            assert after.apology_unit is not None and after.apology_by is not None
            assert engine.org.is_head_or_deputy(after.apology_by, after.apology_unit)
    d = engine.dossier(record.code)
    steps = engine.steps(record.code)
    for s in steps:
        if s.status != "done" or s.due_at is None:
            assert s.late_minutes is None or s.status == "done"
            continue
        assert (s.late_minutes > 0) == (s.result_class == "late"), f"step {s.id}"  # type: ignore[operator]
        if s.late_minutes:
            assert s.first_overdue_at is not None and s.first_overdue_at <= s.due_at
    faults = engine.faults(record.code)
    if d.resolved_at is None:
        assert d.late_minutes is None and faults == {}
        return
    assert d.late_minutes is not None and d.legal_appointment is not None
    assert (d.late_minutes > 0) == (d.result_class == "late")
    assert d.late_minutes == (
        0 if d.resolved_at <= d.legal_appointment
        else max(1, cal.between(d.legal_appointment, d.resolved_at)))
    if not d.late_minutes:
        assert faults == {}
        return
    own = {}
    for s in steps:
        if s.status == "done" and not s.arrived_late and (s.late_minutes or 0) > 0 \
                and s.closed_at is not None and s.closed_at <= d.resolved_at:
            own[s.unit] = own.get(s.unit, 0) + s.late_minutes  # type: ignore[operator]
    event("resolved late")
    if own:
        assert faults == own
    else:  # the units that held the work when the legal appointment passed
        event("late with no late step")
        assert faults, "a late dossier with nobody at fault"
        for unit in faults:
            assert any(s.unit == unit and s.opened_at <= d.legal_appointment
                       and (s.closed_at is None or s.closed_at > d.legal_appointment)
                       for s in steps)
