"""The reports over facts built deliberately, row by row (hand-worked cases of the
accountability issue), the period's bounds, and that every statement a report runs reads an
index (no scan of steps, dossiers or audit).

The rows are inserted with plain SQL into a fresh store: they stand for what the engine writes
under migration 005 (a step that went overdue and was restarted, a hand-back that arrived late,
an apologised dossier finished after its first appointment).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime
from itertools import count
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong import Engine, InvalidData, OrganisationError, UnknownProcedure, reports
from lienthong.legaltime.clock import VN_TZ
from lienthong.reports import Period
from support import COMMUNE, DESK, POLICE

# The rows are the tests' own, written behind the engine's back: no audit row vouches for them.
pytestmark = pytest.mark.tampers

CLERK = "trieu.thi.hanh"
_ids = count(1)


def at(day: int, hour: int = 9) -> str:
    return datetime(2025, 3, day, hour, 0, tzinfo=VN_TZ).isoformat()


def dossier(engine: Engine, code: str, **values: Any) -> None:
    """TEST ROWS: a dossier row as the engine would leave it."""
    row = {
        "code": code,
        "procedure_code": "233448",
        "procedure_version": engine.procedure("233448").version,
        "receiving_unit": DESK,
        "channel": 1,
        "status": 10,
        "applicant": "{}",
        "documents": "[]",
        "routing": "{}",
        "arrived_at": at(3),
        "received_at": at(3),
        "clock_start": at(3),
        "appointment": at(6),
        "original_appointment": at(6),
        **values,
    }
    engine.db["dossiers"].insert(row)


def step(engine: Engine, code: str, unit: str, **values: Any) -> int:
    """TEST ROWS: a finished step row."""
    sid = next(_ids)
    row = {
        "id": sid,
        "dossier": code,
        "task_id": f"t{sid}",
        "spec_id": "register_birth",
        "name": "Đăng ký khai sinh",
        "kind": "user",
        "step_kind": "processing",
        "role": "commune-civil-status",
        "unit": unit,
        "assignee": CLERK,
        "status": "done",
        "opened_at": at(3),
        "closed_at": at(4),
        "closed_by": CLERK,
        "share_minutes": 480,
        "due_at": at(4, 17),
        "result_class": "early",
        "late_minutes": 0,
        **values,
    }
    engine.db["steps"].insert(row)
    return sid


def escalated(
    engine: Engine, code: str, step_id: int, to_unit: str, to_officer: str, when: str
) -> None:
    """TEST ROWS: an escalation audit row (the chain's hashes do not matter here)."""
    engine.db["audit"].insert(
        {
            "dossier": code,
            "event": "escalated",
            "at": when,
            "from_unit": COMMUNE,
            "to_unit": to_unit,
            "to_officer": to_officer,
            "step_id": step_id,
            "prev_hash": "",
            "hash": "",
        }
    )


def test_a_step_overdue_then_restarted_still_counts_overdue(engine: Engine) -> None:
    dossier(engine, "D1")
    # It went overdue, then a supplement restarted its clock and it closed early.
    step(engine, "D1", COMMUNE, first_overdue_at=at(4, 17), result_class="early")
    step(engine, "D1", COMMUNE, result_class="on_time")
    [o] = reports.officers(engine.db, org=engine.org)
    assert (o.officer, o.unit, o.steps, o.early, o.on_time, o.late, o.overdue) == (
        CLERK,
        COMMUNE,
        2,
        1,
        1,
        0,
        1,
    )
    [u] = reports.units(engine.db)
    assert (u.steps, u.early, u.overdue, u.late) == (2, 1, 1, 0)


def test_a_hand_back_that_arrived_late_is_not_charged_to_the_desk(engine: Engine) -> None:
    dossier(engine, "D2")
    step(
        engine,
        "D2",
        DESK,
        step_kind="return",
        role="one-stop-desk",
        result_class="late",
        late_minutes=120,
        arrived_late=1,
        first_overdue_at=at(4, 17),
        closed_by="tran.thi.mai",
    )
    step(
        engine,
        "D2",
        DESK,
        role="one-stop-desk",
        result_class="late",
        late_minutes=30,
        closed_by="tran.thi.mai",
    )
    [u] = reports.units(engine.db, unit=DESK)
    assert (u.steps, u.late, u.late_on_arrival, u.late_minutes, u.early, u.on_time) == (
        2,
        1,
        1,
        30,
        0,
        0,
    )


def test_an_apologised_dossier_past_its_first_appointment_is_late(engine: Engine) -> None:
    # Finished on time against the apology's appointment, late against the first one.
    dossier(
        engine,
        "D3",
        resolved_at=at(10),
        closed_at=at(10, 10),
        result_class="on_time",
        kpi_class="late",
        late_minutes=300,
        apology_issued_at=at(5),
        apology_required_at=at(5, 12),
        apology_unit=COMMUNE,
        apology_by=CLERK,
        appointment=at(12),
    )
    dossier(
        engine,
        "D4",
        resolved_at=at(10),
        closed_at=at(10, 10),
        result_class="late",
        kpi_class="late",
        late_minutes=60,
        apology_required_at=at(5, 12),
    )
    dossier(
        engine,
        "D5",
        resolved_at=at(10),
        closed_at=at(10, 10),
        result_class="on_time",
        kpi_class="late",
        late_minutes=90,
        apology_issued_at=at(7),
        apology_required_at=at(5, 12),
        apology_unit=POLICE,
        apology_late=1,
    )
    dossier(
        engine,
        "D6",
        resolved_at=at(5),
        closed_at=at(5, 10),
        result_class="early",
        kpi_class="early",
        late_minutes=0,
    )
    engine.db["dossier_faults"].insert_all(
        [
            {"dossier": "D3", "unit": COMMUNE, "minutes": 200},
            {"dossier": "D3", "unit": POLICE, "minutes": 300},
        ]
    )
    p = reports.period_report(engine.db)
    assert (
        p.resolved,
        p.resolved_late,
        p.resolved_late_apologised,
        p.resolved_on_time,
        p.resolved_early,
    ) == (4, 3, 2, 0, 1)
    assert p.on_time_rate == 25.0 and p.kpi_on_time_rate == 25.0
    rows = {r.dossier: r for r in reports.apologies(engine.db, org=engine.org)}
    assert set(rows) == {"D3", "D4", "D5"}
    assert (rows["D3"].unit_at_fault, [f.unit for f in rows["D3"].units_at_fault]) == (
        POLICE,
        [POLICE, COMMUNE],
    )
    assert (rows["D3"].late, rows["D3"].missing, rows["D3"].apology_by_name) == (
        False,
        False,
        engine.org.officer(CLERK).name,
    )
    assert (rows["D4"].missing, rows["D4"].issued_at) == (True, None)
    assert (rows["D5"].late, rows["D5"].missing) == (True, False)
    assert [r.dossier for r in reports.apologies(engine.db, org=engine.org, unit=POLICE)] == [
        "D3",
        "D5",
    ]
    units = {u.unit: u for u in reports.units(engine.db)}
    assert (units[POLICE].late_dossiers, units[POLICE].late_dossier_minutes) == (1, 300)


def test_escalations_are_counted_per_step(engine: Engine) -> None:
    dossier(engine, "D7")
    sid = step(engine, "D7", COMMUNE, first_overdue_at=at(4, 17))
    head = engine.org.unit(COMMUNE).head
    assert head is not None
    # Escalated to the commune's head, restarted by a supplement, escalated to it again, then
    # up to the commune.
    escalated(engine, "D7", sid, COMMUNE, head, at(4, 17))
    escalated(engine, "D7", sid, COMMUNE, head, at(6, 17))
    parent = engine.org.unit(COMMUNE).parent
    assert parent is not None
    parent_head = engine.org.unit(parent).head or "x"
    escalated(engine, "D7", sid, parent, parent_head, at(7, 17))
    officers = {(o.officer, o.unit): o.escalations for o in reports.officers(engine.db)}
    assert officers[(head, COMMUNE)] == 1 and officers[(parent_head, parent)] == 1
    units = {u.unit: u.escalations for u in reports.units(engine.db)}
    assert units[COMMUNE] == 1 and units[parent] == 1
    # Only the escalations received in the period.
    p = Period(datetime.fromisoformat(at(7)), None)
    assert {u.unit: u.escalations for u in reports.units(engine.db, period=p)} == {parent: 1}


def test_a_finished_step_counts_in_the_period_it_closed(engine: Engine) -> None:
    dossier(engine, "D8")
    step(
        engine,
        "D8",
        COMMUNE,
        closed_at=at(
            4,
            16,
        ),
    )
    step(engine, "D8", COMMUNE, closed_at=at(5, 8))
    p = Period.days("2025-03-04", "2025-03-04")
    assert [u.steps for u in reports.units(engine.db, period=p)] == [1]
    assert [u.steps for u in reports.units(engine.db, period=Period.days("2025-03-05"))] == [1]
    assert reports.units(engine.db, period=Period.days(None, "2025-03-03")) == []


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2025-13-01", None, r"--from '2025-13-01': expected a date YYYY-MM-DD"),
        ("1/3/2025", None, r"--from '1/3/2025'"),
        (None, "tomorrow", r"--to 'tomorrow'"),
        ("2025-03-02", "2025-03-01", r"--from 2025-03-02 is after --to 2025-03-01"),
    ],
)
def test_bad_dates_are_refused(first: str | None, last: str | None, message: str) -> None:
    with pytest.raises(InvalidData, match=message):
        Period.days(first, last)


def test_a_naive_or_empty_period_is_refused() -> None:
    with pytest.raises(InvalidData, match="timezone-aware"):
        Period(datetime(2025, 3, 1), None)
    with pytest.raises(InvalidData, match="not before the end"):
        Period(datetime(2025, 3, 1, tzinfo=VN_TZ), datetime(2025, 3, 1, tzinfo=VN_TZ))


def test_an_unknown_unit_or_procedure_is_refused_by_every_report(engine: Engine) -> None:
    for fn in (
        reports.officers,
        reports.units,
        reports.returned,
        reports.apologies,
        reports.period_report,
    ):
        with pytest.raises(OrganisationError, match="--unit 'nowhere': no such unit"):
            fn(engine.db, unit="nowhere")
        with pytest.raises(UnknownProcedure, match=r"--procedure '9\.99'.*stored: .*1\.013831"):
            fn(engine.db, procedure="9.99")


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
)
def test_a_day_period_holds_its_days_whole(a: date, b: date) -> None:
    first, last = min(a, b), max(a, b)
    p = Period.days(first, last)
    assert p.start is not None and p.end is not None
    assert p.low <= datetime(first.year, first.month, first.day, tzinfo=VN_TZ).isoformat()
    assert datetime(last.year, last.month, last.day, 23, 59, tzinfo=VN_TZ).isoformat() < p.high
    assert (p.end - p.start).days == (last - first).days + 1


# -- indexes -------------------------------------------------------------------------------------
@pytest.mark.sqlite_only  # SQLite's query plans
def test_every_report_statement_reads_through_an_index(engine: Engine) -> None:
    dossier(engine, "D9", resolved_at=at(10), late_minutes=5, apology_issued_at=at(5))
    step(engine, "D9", COMMUNE, late_minutes=5)
    statements: list[str] = []
    conn = engine.db.conn
    conn.set_trace_callback(statements.append)
    try:
        for kw in (
            {},
            {"unit": COMMUNE},
            {"procedure": "233448"},
            {"period": Period.days("2025-03-01", "2025-03-31")},
        ):
            reports.officers(engine.db, **kw)
            reports.units(engine.db, **kw)
            reports.returned(engine.db, **kw)
            reports.apologies(engine.db, **kw)
            reports.period_report(engine.db, **kw)
    finally:
        conn.set_trace_callback(None)
    scans = set()
    for sql in set(statements):
        if not re.match(r"\s*(SELECT|WITH)", sql):
            continue
        for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
            detail = row[3]
            m = re.match(r"SCAN (\w+)", detail)
            # A scan through an index reads every entry too: only seeks (SEARCH) pass.
            if m and m.group(1) in (
                "steps",
                "dossiers",
                "audit",
                "dossier_faults",
                "s",
                "d",
                "a",
                "f",
                "n",
            ):
                scans.add(f"{detail}: {sql[:120]}")
    assert scans == set()
    assert len(statements) > 20


@pytest.mark.sqlite_only  # a backup copy of the file
def test_an_old_store_without_the_indexes_still_reports(engine: Engine, tmp_path: Any) -> None:
    # A store opened read-only cannot be migrated: the reports are slower there, not wrong.
    dossier(engine, "D10", resolved_at=at(10), late_minutes=0, result_class="early")
    before = reports.fields(reports.period_report(engine.db))
    conn = sqlite3.connect(tmp_path / "old.db")
    engine.db.conn.backup(conn)
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%' "
        "AND (name LIKE '%finished' OR name LIKE 'dossiers_%' OR name LIKE 'audit_%')"
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")
    assert reports.fields(reports.period_report(conn)) == before
