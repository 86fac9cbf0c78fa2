"""Every command that writes ``dossiers``, ``steps`` or ``dossier_faults`` leaves them as its last
audit row vouches (``verify --deep`` intact), and an edit of any covered value of any row is
found and named: one test per path the engine writes through, the demo's province end to end,
and a property over every covered cell of the demo's tables.

(support.py also checks, in every test, that each digest the engine makes from what it wrote
equals the one read from the tables; these tests name the paths.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lienthong import Engine, FixedClock, PluginError, hookimpl
from lienthong.cli import main
from lienthong.store import digests
from support import KHAI_SINH, PROCESSES, FakeAgencies, officer_of, receive_birth, vn

DESK_OFFICER, DESK_HEAD = "nguyen.thu.ha", "tran.thi.mai"
COMMUNE_HEAD = "trieu.thi.hanh"
BIRTH = {
    "birth_certificate_no": "KS-01",
    "residence_registration_no": "TT-01",
    "tax_notice_no": "TB-01",
}


class Flaky(FakeAgencies):
    """The agencies' systems fail while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any) -> dict[str, Any]:
        if self.down:
            self.calls.append(operation)
            raise ConnectionError(f"{operation}: the agency's system does not answer")
        return super().perform_operation(operation, dossier)


class Watcher:
    """Observes escalations: the tick then acts one action at a time."""

    __name__ = "watcher"

    @hookimpl
    def step_escalated(self) -> None:
        pass


# -- one test per path ---------------------------------------------------------------------------


def _at_commune(e: Engine, clock: FixedClock) -> tuple[str, int]:
    """A khai sinh dossier forwarded by the desk: (code, the commune's birth step)."""
    code = receive_birth(e, "Đỗ Minh Khánh").code
    [reception] = e.open_steps(dossier=code)
    clock.advance(minutes=30)
    e.complete(code, reception.id, DESK_HEAD)
    [birth] = e.open_steps(dossier=code)
    return code, birth.id


def _received(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    return receive_birth(e).code


def _received_online(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = receive_birth(e, channel=2).code
    [reception] = e.open_steps(dossier=code)
    clock.advance(hours=1)
    e.complete(code, reception.id, DESK_OFFICER)  # accepted: the clock starts
    return code


def _claimed(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = receive_birth(e).code
    e.claim(code, e.open_steps(dossier=code)[0].id, DESK_OFFICER)
    return code


def _handed_off(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    return _at_commune(e, clock)[0]


def _refused(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = receive_birth(e).code
    [reception] = e.open_steps(dossier=code)
    e.complete(code, reception.id, DESK_OFFICER, {"accepted": False, "reason": "thiếu giấy tờ"})
    return code


def _supplement_requested(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    clock.advance(hours=1)
    e.request_supplement(code, officer=COMMUNE_HEAD, missing=["giay_chung_sinh"], reason="mờ")
    return code


def _supplement_received(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = _supplement_requested(e, clock, flaky)
    clock.advance(hours=2)
    e.receive_supplement(code, officer=DESK_OFFICER, documents=["giay_chung_sinh"])
    return code


def _obligation(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    clock.advance(hours=1)
    e.start_obligation(code, officer=COMMUNE_HEAD)
    clock.advance(hours=3)
    e.end_obligation(code)
    return code


def _apologised(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    clock.set(vn(2025, 3, 4, 15, 0))  # the commune's step overdue since 09:30
    e.apologise(
        code, officer=COMMUNE_HEAD, reason="Cần xác minh", new_appointment=vn(2025, 3, 10, 9)
    )
    return code


def _withdrawn(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    e.withdraw(code, reason="Công dân xin rút hồ sơ", officer=DESK_OFFICER)
    return code


def _stopped_by_the_agency(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    e.withdraw(code, reason="Hồ sơ giả mạo", officer=DESK_HEAD, by_agency=True)
    return code


def _ticked(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    report = e.tick(vn(2025, 3, 7, 9, 0))  # warnings, escalations, the apology reminder
    assert report.count("escalated") >= 2 and report.count("warning") >= 1
    return code


def _next_user_step(e: Engine, code: str) -> Any:
    return next((s for s in e.steps(code) if s.is_open and s.kind == "user"), None)


def _served(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    while not flaky.calls:  # the service steps run after the command that opens them commits
        step = _next_user_step(e, code)
        clock.advance(hours=1)
        e.complete(code, step.id, officer_of(e, step.unit), BIRTH)
    return code


def _service_failed(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    flaky.down = True
    code = _served(e, clock, flaky)
    assert any(s.status == "failed" for s in e.steps(code))
    return code


def _retried(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = _service_failed(e, clock, flaky)
    [failed] = [s for s in e.steps(code) if s.status == "failed"]
    with pytest.raises(PluginError):
        e.retry(code, failed.id)
    flaky.down = False
    clock.advance(hours=1)
    e.retry(code, failed.id, data={"note": "gửi lại"})
    return code


def _corrected(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code = _service_failed(e, clock, flaky)
    flaky.down = False
    e.correct_data(code, officer=DESK_OFFICER, data={"address": "Số 5"}, reason="Sai địa chỉ")
    return code


def _migrated(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, _ = _at_commune(e, clock)
    # The same process, another file: another version the dossier can move to.
    v2 = e.load_procedure(KHAI_SINH.read_bytes() + b"<!-- v2 -->\n", name="v2.bpmn").version
    clock.advance(hours=1)
    e.migrate(code, v2, officer=DESK_HEAD)
    return code


def _resolved_late(e: Engine, clock: FixedClock, flaky: Flaky) -> str:
    code, birth = _at_commune(e, clock)
    clock.set(vn(2025, 3, 10, 9, 0))  # days past the appointment of 6/3
    e.complete(code, birth, COMMUNE_HEAD, BIRTH)
    while step := _next_user_step(e, code):
        clock.advance(hours=1)
        e.complete(code, step.id, officer_of(e, step.unit), BIRTH)
    assert e.faults(code), "resolved late: the units at fault are recorded"
    return code


PATHS: dict[str, tuple[Callable[[Engine, FixedClock, Flaky], str], str]] = {
    # name: (the commands, the event of the dossier's last audit row)
    "receive": (_received, "received"),
    "receive online, then accept": (_received_online, "handoff"),
    "claim": (_claimed, "claimed"),
    "complete (a handoff)": (_handed_off, "handoff"),
    "complete refusing at reception": (_refused, "refused"),
    "request_supplement": (_supplement_requested, "supplement_requested"),
    "receive_supplement": (_supplement_received, "supplement_received"),
    "start and end a financial obligation": (_obligation, "obligation_ended"),
    "apologise": (_apologised, "apology"),
    "withdraw (the applicant)": (_withdrawn, "withdrawn"),
    "withdraw (the agency)": (_stopped_by_the_agency, "withdrawn"),
    "tick": (_ticked, "escalated"),
    "a service result recorded": (_served, "handoff"),
    "a service failure recorded": (_service_failed, "service_failed"),
    "retry with corrected data": (_retried, "handoff"),
    "correct_data": (_corrected, "handoff"),
    "dossier migrate": (_migrated, "migrated"),
    "resolved late: the facts at close": (_resolved_late, "returned"),
}


@pytest.fixture(params=["set-wise tick", "one action at a time"])
def tick_path(request: pytest.FixtureRequest) -> list[Any]:
    return [] if request.param == "set-wise tick" else [Watcher()]


@pytest.mark.parametrize("name", list(PATHS))
def test_each_path_leaves_the_tables_as_its_last_audit_row_vouches(
    name: str,
    tick_path: list[Any],
    make_engine: Callable[..., Engine],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    commands, event = PATHS[name]
    flaky = Flaky()
    engine = make_engine(tmp_path / "x.db", plugins=[flaky, *tick_path])
    engine.load_procedures(PROCESSES)
    code = commands(engine, clock, flaky)
    last = engine.audit_rows(code)[-1]
    assert last["event"] == event
    assert last["state_digest"] == digests.digest(engine.db, code)
    # The tick, after any of them, writes as vouched too (each path, each tick path).
    engine.tick(vn(2025, 3, 20, 9, 0))
    result = engine.verify_audit(deep=True)
    assert result.ok, result.reason
    assert result.state is not None and result.state.checked == len(engine.dossiers())
    # An edit of the dossier's row behind the engine's back is then named; undone, it is not.
    conn = engine.db.conn
    (note,) = conn.execute("SELECT note FROM dossiers WHERE code = ?", [code]).fetchone()
    conn.execute("UPDATE dossiers SET note = ? WHERE code = ?", [f"{note} (sửa)", code])
    conn.commit()
    found = engine.verify_audit(deep=True)
    assert found.state is not None
    assert [(p.dossier, p.step_id) for p in found.state.problems] == [(code, None)]
    conn.execute("UPDATE dossiers SET note = ? WHERE code = ?", [note, code])
    conn.commit()
    assert engine.verify_audit(deep=True).ok


# -- the demo, end to end --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    out = CliRunner().invoke(
        main, ["demo", "--db", str(path), "--dossiers", "30", "--weeks", "2", "--seed", "7"]
    )
    assert out.exit_code == 0, out.output
    return path


def test_the_demo_province_verifies_deeply(demo: Path) -> None:
    out = CliRunner().invoke(main, ["audit", "verify", "--db", str(demo), "--deep"])
    assert out.exit_code == 0, out.output
    conn = sqlite3.connect(demo)
    n = conn.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    faults = conn.execute("SELECT count(*) FROM dossier_faults").fetchone()[0]
    conn.close()
    assert f"tables match: {n} of {n} dossiers" in out.output
    assert faults, "the demo resolves some dossiers late: their faults are covered too"


@pytest.fixture
def cells(demo: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(demo, isolation_level=None)
    yield conn
    conn.close()


_TABLES = {
    # table: (its covered columns but the keys, how a row is found, the dossier of a row)
    "dossiers": ([c for c in digests.DOSSIER_COLUMNS if c != "code"], "code", "code"),
    "steps": ([c for c in digests.STEP_COLUMNS if c != "id"], "id", "dossier"),
    # (a fault's unit: below, the row found by its key)
    "dossier_faults": (["minutes"], "rowid", "dossier"),
}
_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=6),
    st.floats(allow_nan=False),
    st.binary(max_size=3),
)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.tampers
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_an_edit_of_any_covered_cell_is_named(
    cells: sqlite3.Connection, data: st.DataObject
) -> None:
    table = data.draw(st.sampled_from(sorted(_TABLES)), label="table")
    columns, key, owner = _TABLES[table]
    if table == "dossier_faults":  # a WITHOUT ROWID table: rows by their key
        keys = cells.execute("SELECT dossier, unit FROM dossier_faults").fetchall()
    else:
        keys = [r[0] for r in cells.execute(f"SELECT {key} FROM {table}")]
    row = data.draw(st.sampled_from(keys), label="row")
    column = data.draw(st.sampled_from(columns), label="column")
    where, args = (
        ("dossier = ? AND unit = ?", list(row))
        if table == "dossier_faults"
        else (f"{key} = ?", [row])
    )
    was, code = cells.execute(
        f"SELECT {column}, {owner} FROM {table} WHERE {where}", args
    ).fetchone()
    new = data.draw(_VALUES, label="value")
    try:
        cells.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", [new, *args])
    except sqlite3.IntegrityError:  # NOT NULL, or a key taken: no such edit can be made
        assume(False)
    (stored,) = cells.execute(f"SELECT {column} FROM {table} WHERE {where}", args).fetchone()
    try:
        assume(not _same(stored, was))  # SQLite may store it as the value it was
        state = digests.check(_db(cells))
        expected = [(code, row if table == "steps" else None)]
        assert [(p.dossier, p.step_id) for p in state.problems] == expected
    finally:
        cells.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", [was, *args])
    assert digests.check(_db(cells)).ok  # edited back: clean


def _db(conn: sqlite3.Connection) -> Any:
    import sqlite_utils

    return sqlite_utils.Database(conn)


@pytest.mark.tampers
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM dossier_faults WHERE (dossier, unit) IN "
        "(SELECT dossier, unit FROM dossier_faults LIMIT 1)",
        "INSERT INTO dossier_faults (dossier, unit, minutes) "
        "SELECT code, '000.00.00.H29', 60 FROM dossiers LIMIT 1",
        # Blame moved to another unit: the other unit's code, same minutes.
        "UPDATE dossier_faults SET unit = '000.00.00.H29' WHERE (dossier, unit) IN "
        "(SELECT dossier, unit FROM dossier_faults LIMIT 1)",
    ],
    ids=["a fault deleted", "a fault inserted", "a fault charged to another unit"],
)
def test_a_fault_row_deleted_inserted_or_changed_is_named(
    sql: str, demo: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "demo.db"
    copy.write_bytes(demo.read_bytes())
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute(sql)
    state = digests.check(_db(conn))
    conn.close()
    [problem] = state.problems
    assert problem.step_id is None
    assert problem.what.startswith("its dossier row (with its dossier_faults) was changed")
