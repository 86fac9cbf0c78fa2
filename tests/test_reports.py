"""The accountability reports on the demo database agree with counts written here, over the raw
rows, in plain Python (not the reports' SQL); the returned-twice scenario, through the engine.

Until the engine fills migration 005's columns (another change of the accountability issue),
``_fill_facts`` sets them on the demo database with plain SQL, from what the demo stored (the
audit's ``overdue`` events, result classes, the first appointment, the ``apology`` rows): it
does nothing once the engine fills them. Either way the counts below are the reports' contract.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lienthong import Engine, FixedClock, reports
from lienthong.demo import run_demo
from lienthong.legaltime.clock import VN_TZ
from lienthong.reports import Period
from lienthong.status import Channel
from support import COMMUNE, DESK, POLICE, officer_of, receive_birth


def _minutes(a: str, b: str) -> int:
    return int((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() // 60)


def _fill_facts(engine: Engine) -> None:
    """TEST FIXTURE, plain SQL: migration 005's facts where the engine left them unset."""
    db = engine.db
    filled = db.execute(
        "SELECT 1 FROM steps WHERE status = 'done' AND late_minutes IS NOT NULL LIMIT 1"
    ).fetchone()
    if filled:
        return
    with engine.store.transaction():
        for sid, due, closed, rc, opened in db.execute(
            "SELECT id, due_at, closed_at, result_class, opened_at FROM steps "
            "WHERE status = 'done' AND due_at IS NOT NULL"
        ).fetchall():
            late = max(1, _minutes(due, closed)) if rc == "late" else 0
            db.execute(
                "UPDATE steps SET late_minutes = ?, arrived_late = ? WHERE id = ?",
                [late, int(late > 0 and opened >= due), sid],
            )
        db.execute(
            "UPDATE steps SET first_overdue_at = (SELECT min(a.due_at) FROM audit a "
            "WHERE a.event = 'overdue' AND a.step_id = steps.id) WHERE first_overdue_at IS NULL"
        )
        for code, resolved, first in db.execute(
            "SELECT code, resolved_at, original_appointment FROM dossiers "
            "WHERE resolved_at IS NOT NULL"
        ).fetchall():
            late = max(1, _minutes(first, resolved)) if resolved > first else 0
            db.execute("UPDATE dossiers SET late_minutes = ? WHERE code = ?", [late, code])
            if late:
                for unit, minutes in db.execute(
                    "SELECT unit, sum(late_minutes) FROM steps WHERE dossier = ? "
                    "AND late_minutes > 0 AND arrived_late = 0 GROUP BY unit",
                    [code],
                ).fetchall():
                    db.execute("INSERT INTO dossier_faults VALUES (?, ?, ?)", [code, unit, minutes])
        for code, at, unit, officer in db.execute(
            "SELECT dossier, at, from_unit, from_officer FROM audit WHERE event = 'apology'"
        ).fetchall():
            required = (
                db.execute(
                    "SELECT min(at) FROM audit WHERE dossier = ? AND event = 'apology_required'",
                    [code],
                ).fetchone()[0]
                or at
            )
            db.execute(
                "UPDATE dossiers SET apology_required_at = ?, apology_unit = ?, apology_by = ?, "
                "apology_late = ? WHERE code = ?",
                [required, unit, officer, int(at > required), code],
            )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = run_demo(path, out=lambda _line: None)
    _fill_facts(result.engine)
    yield result.engine
    result.engine.close()


def _rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in engine.db.query(f"SELECT * FROM {table}")]


def _end_at(engine: Engine, p: Period) -> str:
    """Where in-progress dossiers are judged: the period's end, or the last audited instant."""
    if p.end is not None:
        return p.high
    return str(max(_rows(engine, "audit"), key=lambda a: a["id"])["at"])


def _in(at: str | None, p: Period) -> bool:
    return at is not None and p.low <= at < p.high


def _periods(engine: Engine) -> list[Period]:
    first = datetime(2026, 2, 2, tzinfo=VN_TZ)
    return [
        Period(),
        Period.days("2026-02-09", "2026-02-20"),
        Period(first + timedelta(days=3, hours=10), first + timedelta(days=23, hours=15)),
    ]


# -- officers and units ------------------------------------------------------------------------
def _step_counts(steps: list[dict[str, Any]]) -> dict[str, int]:
    late = [s for s in steps if (s["late_minutes"] or 0) > 0]
    rest = [s for s in steps if (s["late_minutes"] or 0) <= 0]
    return {
        "steps": len(steps),
        "early": sum(1 for s in rest if s["result_class"] == "early"),
        "on_time": sum(1 for s in rest if s["result_class"] == "on_time"),
        "late": sum(1 for s in late if not s["arrived_late"]),
        "late_on_arrival": sum(1 for s in late if s["arrived_late"]),
        "overdue": sum(1 for s in steps if s["first_overdue_at"] is not None),
        "late_minutes": sum(s["late_minutes"] for s in late if not s["arrived_late"]),
    }


def _escalated(engine: Engine, p: Period, key: str) -> dict[Any, int]:
    seen: dict[Any, set[int]] = defaultdict(set)
    for a in _rows(engine, "audit"):
        if a["event"] == "escalated" and _in(a["at"], p) and a["to_unit"]:
            k = (a["to_officer"], a["to_unit"]) if key == "officer" else a["to_unit"]
            if key == "unit" or a["to_officer"]:
                seen[k].add(a["step_id"])
    return {k: len(v) for k, v in seen.items()}


@pytest.mark.parametrize("which", [0, 1, 2])
def test_officers_agree_with_the_raw_steps(demo: Engine, which: int) -> None:
    p = _periods(demo)[which]
    done = [
        s
        for s in _rows(demo, "steps")
        if s["status"] == "done" and s["kind"] == "user" and _in(s["closed_at"], p)
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in done:
        groups[(s["closed_by"], s["unit"])].append(s)
    esc = _escalated(demo, p, "officer")
    expected = {k: {**_step_counts(v), "escalations": esc.get(k, 0)} for k, v in groups.items()}
    for k, n in esc.items():
        expected.setdefault(k, {**_step_counts([]), "escalations": n})
    got = {
        (r.officer, r.unit): {k: getattr(r, k) for k in expected[(r.officer, r.unit)]}
        for r in reports.officers(demo.db, org=demo.org, period=p)
    }
    assert got == expected
    assert sum(e["steps"] for e in expected.values()) == len(done) > 0


@pytest.mark.parametrize("which", [0, 1, 2])
def test_units_agree_with_the_raw_steps(demo: Engine, which: int) -> None:
    p = _periods(demo)[which]
    dossiers = {d["code"]: d for d in _rows(demo, "dossiers")}
    done = [s for s in _rows(demo, "steps") if s["status"] == "done" and _in(s["closed_at"], p)]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in done:
        groups[s["unit"]].append(s)

    def coordinating(s: dict[str, Any]) -> bool:
        lanes = demo.procedure(dossiers[s["dossier"]]["procedure_version"]).lanes.values()
        return any(lane.role == s["role"] and lane.coordinating for lane in lanes)

    faults: dict[str, list[int]] = defaultdict(list)
    for f in _rows(demo, "dossier_faults"):
        d = dossiers[f["dossier"]]
        if _in(d["resolved_at"], p) and (d["late_minutes"] or 0) > 0:
            faults[f["unit"]].append(f["minutes"])
    esc = _escalated(demo, p, "unit")
    expected = {}
    for unit in set(groups) | set(esc) | set(faults):
        steps = groups.get(unit, [])
        expected[unit] = {
            **_step_counts(steps),
            "escalations": esc.get(unit, 0),
            "late_dossiers": len(faults.get(unit, [])),
            "late_dossier_minutes": sum(faults.get(unit, [])),
            "coordinating": sum(1 for s in steps if coordinating(s)),
        }
    got = {
        r.unit: {k: getattr(r, k) for k in expected[r.unit]}
        for r in reports.units(demo.db, org=demo.org, period=p)
    }
    assert got == expected
    assert any(e["coordinating"] for e in expected.values())


def test_the_facts_are_there_to_count(demo: Engine) -> None:
    # Otherwise the agreement above could hold with every late figure zero.
    units = reports.units(demo.db)
    assert sum(u.late for u in units) > 0 and sum(u.overdue for u in units) > 0
    assert sum(u.late_dossiers for u in units) > 0 and sum(u.escalations for u in units) > 0
    assert sum(o.escalations for o in reports.officers(demo.db)) > 0


def test_a_unit_filter_keeps_that_unit(demo: Engine) -> None:
    whole = {(r.officer, r.unit): r for r in reports.officers(demo.db)}
    only = reports.officers(demo.db, unit=COMMUNE)
    assert only and all(r.unit == COMMUNE for r in only)
    assert all(whole[(r.officer, r.unit)] == r for r in only)
    assert [u.unit for u in reports.units(demo.db, unit=POLICE)] == [POLICE]


def test_a_procedure_filter_keeps_its_dossiers(demo: Engine) -> None:
    dossiers = {d["code"]: d for d in _rows(demo, "dossiers")}
    steps = [
        s
        for s in _rows(demo, "steps")
        if s["status"] == "done" and dossiers[s["dossier"]]["procedure_code"] == "1.013831"
    ]
    got = reports.units(demo.db, procedure="1.013831")
    assert {u.unit: u.steps for u in got if u.steps} == Counter(s["unit"] for s in steps)


# -- period --------------------------------------------------------------------------------------
def _first_appointment(engine: Engine, d: dict[str, Any]) -> str | None:
    for a in engine.db.query(
        "SELECT data FROM audit WHERE dossier = ? AND event = 'apology' ORDER BY id",
        [d["code"]],
    ):
        return json.loads(a["data"])["old_appointment"]
    return d["appointment"]


def _expected_period(engine: Engine, p: Period) -> dict[str, Any]:
    ds = _rows(engine, "dossiers")

    def end(d: dict[str, Any]) -> str | None:
        return d["resolved_at"] or d["closed_at"]

    def in_progress(at: str) -> list[dict[str, Any]]:
        return [
            d
            for d in ds
            if d["received_at"] and d["received_at"] < at and (end(d) is None or end(d) >= at)
        ]

    received = [d for d in ds if _in(d["received_at"], p)]
    resolved = [d for d in ds if _in(d["resolved_at"], p)]
    late = [d for d in resolved if (d["late_minutes"] or 0) > 0]
    rest = [d for d in resolved if (d["late_minutes"] or 0) <= 0]
    closed = [d for d in ds if d["resolved_at"] is None and _in(d["closed_at"], p)]
    now = in_progress(p.high)
    overdue = [
        d
        for d in now
        if not (end(d) is None and d["status"] in (5, 6))
        and (_first_appointment(engine, d) or "9") < _end_at(engine, p)
    ]
    kpi_late_now = {d["code"] for d in overdue} | {d["code"] for d in now if d["supplements"] > 1}
    accepted = [d for d in closed if d["status"] in (7, 8) and d["received_at"]]
    in_time = [
        d
        for d in accepted
        if (d["appointment"] is None or end(d) <= d["appointment"]) and d["supplements"] <= 1
    ]
    kpi_on_time = sum(1 for d in resolved if d["kpi_class"] in ("early", "on_time"))
    processed = len(resolved) + len(accepted) + len(now)
    processed_on_time = kpi_on_time + len(in_time) + len(now) - len(kpi_late_now)
    early = sum(1 for d in rest if d["result_class"] == "early")
    on_time = sum(1 for d in rest if d["result_class"] == "on_time")

    def pct(a: int, b: int) -> float | None:
        return round(100.0 * a / b, 1) if b else None

    online = sum(1 for d in received if d["channel"] == Channel.ONLINE)
    return {
        "carried_over": len(in_progress(p.low)) if p.start else 0,
        "received": len(received),
        "direct": sum(1 for d in received if d["channel"] == Channel.DIRECT),
        "online": online,
        "postal": sum(1 for d in received if d["channel"] == Channel.POSTAL),
        "resolved": len(resolved),
        "resolved_early": early,
        "resolved_on_time": on_time,
        "resolved_late": len(late),
        "resolved_late_apologised": sum(1 for d in late if d["apology_issued_at"]),
        "in_progress": len(now),
        "in_progress_on_time": len(now) - len(overdue),
        "in_progress_overdue": len(overdue),
        "withdrawn": sum(1 for d in closed if d["status"] == 7),
        "stopped": sum(1 for d in closed if d["status"] == 8),
        "refused": sum(1 for d in closed if d["status"] == 3),
        "on_time_rate": pct(early + on_time, len(resolved)),
        "kpi_resolved_on_time": kpi_on_time,
        "kpi_resolved_late": sum(1 for d in resolved if d["kpi_class"] == "late"),
        "kpi_on_time_rate": pct(kpi_on_time, len(resolved)),
        "online_share": pct(online, len(received)),
        "kpi_processed": processed,
        "kpi_processed_on_time": processed_on_time,
        "kpi_progress_rate": pct(processed_on_time, processed),
    }


@pytest.mark.parametrize("which", [0, 1, 2])
def test_the_period_agrees_with_the_raw_dossiers(demo: Engine, which: int) -> None:
    p = _periods(demo)[which]
    got = reports.fields(reports.period_report(demo.db, period=p))
    assert got.pop("period_start") == (p.start.isoformat() if p.start else None)
    assert got.pop("period_end") == (p.end.isoformat() if p.end else None)
    assert got == _expected_period(demo, p)


def test_the_demo_has_what_the_period_counts(demo: Engine) -> None:
    whole = reports.period_report(demo.db)
    assert whole.resolved_late > 0 and whole.resolved_late_apologised > 0
    assert whole.refused > 0 and whole.online > 0 and whole.direct > 0
    week = reports.period_report(demo.db, period=_periods(demo)[1])
    assert week.carried_over > 0 and week.in_progress > 0


# -- apologies and returned ------------------------------------------------------------------------
@pytest.mark.parametrize("which", [0, 1, 2])
def test_apologies_agree_with_the_raw_dossiers(demo: Engine, which: int) -> None:
    p = _periods(demo)[which]
    ds = _rows(demo, "dossiers")
    faults: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for f in _rows(demo, "dossier_faults"):
        faults[f["dossier"]].append((-f["minutes"], f["unit"]))
    late = {d["code"] for d in ds if _in(d["resolved_at"], p) and (d["late_minutes"] or 0) > 0}
    late |= set(_overdue_codes(demo, p))
    expected = []
    for d in sorted((d for d in ds if d["code"] in late), key=lambda d: d["code"]):
        top = sorted(faults[d["code"]])
        expected.append(
            {
                "dossier": d["code"],
                "unit_at_fault": top[0][1] if top else None,
                "required_at": d["apology_required_at"],
                "issued_at": d["apology_issued_at"],
                "late": bool(d["apology_late"]),
                "missing": d["apology_issued_at"] is None,
            }
        )
    got = (
        [
            {k: v for k, v in reports.fields(r).items() if k in expected[0]}
            for r in reports.apologies(demo.db, period=p)
        ]
        if expected
        else []
    )
    assert got == expected
    if which == 0:
        assert any(e["missing"] for e in expected) or any(e["issued_at"] for e in expected)


def _overdue_codes(engine: Engine, p: Period) -> list[str]:
    out = []
    for d in _rows(engine, "dossiers"):
        end = d["resolved_at"] or d["closed_at"]
        if not d["received_at"] or d["received_at"] >= p.high or (end and end < p.high):
            continue
        if end is None and d["status"] in (5, 6):
            continue
        if (_first_appointment(engine, d) or "9") < _end_at(engine, p):
            out.append(d["code"])
    return out


def test_returned_lists_no_dossier_asked_once(demo: Engine) -> None:
    asked = Counter(
        a["dossier"] for a in _rows(demo, "audit") if a["event"] == "supplement_requested"
    )
    assert {r.dossier for r in reports.returned(demo.db)} == {c for c, n in asked.items() if n >= 2}
    assert {r.dossier for r in reports.returned(demo.db, times=1)} == set(asked)


def test_a_dossier_asked_twice_is_returned_with_who_and_when(
    engine: Engine, clock: FixedClock
) -> None:
    d = receive_birth(engine)
    once = receive_birth(engine, "Trần Thị Bình")
    clerk = officer_of(engine, COMMUNE)
    asked = []
    for code in (d.code, once.code):
        [reception] = [s for s in engine.steps(code) if s.is_open]
        clock.advance(minutes=15)
        engine.complete(code, reception.id, officer_of(engine, DESK))
        clock.advance(hours=1)
        engine.request_supplement(
            code, officer=clerk, missing=["giay_chung_sinh"], reason="Giấy chứng sinh mờ"
        )
        asked.append(clock.now())
        clock.advance(hours=2)
        engine.receive_supplement(code)
    step = next(s for s in engine.steps(d.code) if s.is_open)
    engine.complete(d.code, step.id, clerk, {"birth_certificate_no": "KS-1"})
    clock.advance(hours=1)
    police = officer_of(engine, POLICE)
    engine.request_supplement(
        d.code, officer=police, missing=["to_khai_lien_thong"], reason="Tờ khai thiếu nơi cư trú"
    )
    second = clock.now()
    [r] = reports.returned(engine.db, org=engine.org)
    assert (r.dossier, r.times, r.status) == (d.code, 2, 5)
    assert [(q.unit, q.officer, q.at, q.missing) for q in r.requests] == [
        (COMMUNE, clerk, asked[0].isoformat(), ("giay_chung_sinh",)),
        (POLICE, police, second.isoformat(), ("to_khai_lien_thong",)),
    ]
    assert r.requests[1].name == engine.org.officer(police).name
    assert r.requests[1].reason == "Tờ khai thiếu nơi cư trú"
    # In a period holding only the second request it is listed; before both, not.
    assert [
        x.dossier
        for x in reports.returned(
            engine.db, period=Period(second - timedelta(minutes=1), second + timedelta(minutes=1))
        )
    ] == [d.code]
    assert reports.returned(engine.db, period=Period(None, asked[0])) == []
    assert [x.dossier for x in reports.returned(engine.db, unit=POLICE)] == [d.code]
    assert reports.returned(engine.db, unit=DESK) == []


def test_reports_name_a_procedure_by_its_current_version(engine: Engine) -> None:
    """Loading an older version again makes it current (``procedures.seq``); the reports name
    the procedure as that version does, even when every version was loaded at one instant (an
    injected clock), where an order by ``loaded_at`` alone would fall back to the rows' order."""
    from support import KHAI_SINH

    first = engine.procedure("233448")
    d = receive_birth(engine)
    [reception] = [s for s in engine.steps(d.code) if s.is_open]
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    engine.request_supplement(
        d.code, officer=officer_of(engine, COMMUNE), missing=["giay_chung_sinh"], reason="Mờ"
    )
    renamed = KHAI_SINH.read_bytes().replace(
        first.name.encode(), "Tên mới của thủ tục (renamed)".encode(), 1
    )

    def named() -> str:
        [r] = reports.returned(engine.db, org=engine.org, times=1)
        return r.procedure_name

    assert named() == first.name
    engine.load_procedure(renamed, name="renamed.bpmn")
    assert engine.procedure("233448").name == "Tên mới của thủ tục (renamed)"
    assert named() == "Tên mới của thủ tục (renamed)"
    engine.load_procedure(KHAI_SINH)  # the first version again: current, not stored twice
    assert engine.procedure("233448").version == first.version
    assert named() == first.name


def test_reports_open_a_path_read_only(demo: Engine, tmp_path: Path) -> None:
    path = demo.store.path if hasattr(demo.store, "path") else None
    if path is None:
        path = demo.db.execute("PRAGMA database_list").fetchone()[2]
    rows = reports.units(str(path))
    assert rows == reports.units(demo.db)
