"""Hostile input to the public API: whatever a caller hands in, what comes back is a lienthong
error, never sqlite3's, a TypeError, a UnicodeEncodeError or a RecursionError; a refused command
leaves the store as it was; and no script can stop the process.

The property tests draw each argument of a command either from the values that work (the
dossier's code, its open step, an officer of its unit) or from hostile ones, so that a bad
argument is met both at the front door and behind arguments that passed. An InternalError counts
as a failure too: it means a path nobody foresaw, a bug.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong import (
    DossierNotFound,
    Engine,
    FixedClock,
    InternalError,
    InvalidData,
    LienthongError,
    Organisation,
    ProcedureError,
    ScriptError,
    StepNotFound,
    StoreError,
    WorkingCalendar,
    hookimpl,
    load_procedure,
)
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import demo_organisation
from support import BIRTH_DOCUMENTS, COMMUNE, DESK, KHAI_SINH, FakeAgencies, snapshot, vn

START = vn(2025, 3, 3, 9, 0)
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


# Every kind of value a caller should not hand in. Big integers stay under Python's 4 300 digits,
# so that hypothesis can still print a failing example.
_ODD = [
    "", " ", "\ud800", "ab\udcff", "\x00", "a\x00b", "x" * 5000, "000.00.01.H29-999999-0001",
    -1, 0, 2**63, -(2**63) - 1, 2**64, 10**4000, float("nan"), float("inf"), -0.0,
    b"x", bytearray(b"x"), set(), frozenset({1}), (1, 2), object(),
    datetime(2025, 3, 3, 9, 0), datetime(9999, 12, 31, tzinfo=VN_TZ), date(2025, 3, 3),
    timedelta(days=1), _deep(300), {"name": "\ud800"}, {1: 2}, {"": None}, [None], [{}],
]
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)  # st.characters() has none
_ANY_TEXT = st.text(st.characters() | _SURROGATES, max_size=12)
HOSTILE = st.one_of(
    st.sampled_from(_ODD), st.none(), st.booleans(), st.integers(), st.floats(), _ANY_TEXT,
    st.binary(max_size=4), _JSONISH,
)


def valid_or_hostile(*valid: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(valid), HOSTILE)


# -- a fresh engine for every example that changed something -------------------------------------


@dataclass
class World:
    """An engine on a copy of a template file: one dossier received (an open step at the desk),
    one finished. Rebuilt from the template after an example that changed the store, so that
    every example starts from the same state (hypothesis replays examples)."""

    template: Path
    work: Path
    engine: Engine | None = None
    clock: FixedClock = field(default_factory=lambda: FixedClock(START))
    open_code: str = ""
    closed_code: str = ""
    step_id: int = 0
    officer: str = ""
    dirty: bool = True

    def fresh(self) -> Engine:
        if self.dirty or self.engine is None:
            if self.engine is not None:
                self.engine.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.work) + suffix).unlink(missing_ok=True)
            shutil.copy(self.template, self.work)
            self.clock = FixedClock(START)
            self.engine = _engine(self.work, self.clock)
            self.dirty = False
        return self.engine


def _engine(path: Path, clock: FixedClock) -> Engine:
    return Engine(
        path, org=demo_organisation(), clock=clock, plugins=[FakeAgencies()], entry_points=False,
        checkpoints="inline",
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("hostile")
    template = folder / "template.db"
    clock = FixedClock(START)
    engine = _engine(template, clock)
    engine.load_procedure(KHAI_SINH)
    closed = engine.receive(
        "233448", applicant={"name": "B"}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS
    ).code
    engine.withdraw(closed, reason="rút hồ sơ")
    code = engine.receive(
        "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS
    ).code
    [step] = engine.open_steps(dossier=code)
    officer = engine.org.members(DESK)[0].id
    engine.close()
    w = World(template, folder / "work.db", open_code=code, closed_code=closed,
              step_id=step.id, officer=officer)
    yield w
    if w.engine is not None:
        w.engine.close()


def commands(w: World) -> dict[str, tuple[str, dict[str, st.SearchStrategy[Any]]]]:
    """Command name -> (Engine method, strategy of each keyword argument)."""
    code = valid_or_hostile(w.open_code, w.closed_code)
    step = valid_or_hostile(w.step_id, w.step_id + 1)
    officer = valid_or_hostile(w.officer, "tran.thi.mai")
    maybe_officer = valid_or_hostile(None, w.officer)
    text = valid_or_hostile("lý do", "x")
    data = valid_or_hostile(None, {}, {"note": "ok"}, {"accepted": False, "reason": "thiếu"})
    instant = valid_or_hostile(START + timedelta(days=3), vn(2030, 1, 1))
    texts = valid_or_hostile(["giay_chung_sinh"], [], ("a",))
    return {
        "receive": ("receive", {
            "procedure": valid_or_hostile("233448"),
            "applicant": valid_or_hostile({"name": "Nguyễn Văn An"}, {"name": "A", "phone": 1}),
            "receiving_unit": valid_or_hostile(DESK, COMMUNE),
            "documents": valid_or_hostile(BIRTH_DOCUMENTS, [{"code": "giay_chung_sinh"}]),
            "channel": valid_or_hostile(1, 2, 3),
            "officer": maybe_officer,
            "routing": valid_or_hostile(None, {}),
            "data": data,
        }),
        "claim": ("claim", {"dossier": code, "step_id": step, "officer": officer}),
        "complete": ("complete", {
            "dossier": code, "step_id": step, "officer": officer, "data": data,
        }),
        "return_result": ("return_result", {"dossier": code, "officer": officer, "data": data}),
        "withdraw": ("withdraw", {
            "dossier": code, "reason": text, "officer": maybe_officer,
            "by_agency": valid_or_hostile(False, True),
        }),
        "retry": ("retry", {"dossier": code, "step_id": step}),
        "request_supplement": ("request_supplement", {
            "dossier": code, "officer": officer, "missing": texts, "reason": text,
        }),
        "receive_supplement": ("receive_supplement", {
            "dossier": code, "officer": maybe_officer, "documents": texts,
        }),
        "start_obligation": ("start_obligation", {
            "dossier": code, "officer": officer, "note": text,
        }),
        "end_obligation": ("end_obligation", {"dossier": code, "officer": maybe_officer}),
        "apologise": ("apologise", {
            "dossier": code, "officer": officer, "reason": text, "new_appointment": instant,
        }),
        "tick": ("tick", {"now": valid_or_hostile(None, START + timedelta(days=30))}),
        "dossier": ("dossier", {"code": code}),
        "dossiers": ("dossiers", {"status": valid_or_hostile(None, 4, 7)}),
        "steps": ("steps", {"dossier": code}),
        "step": ("step", {"dossier": code, "step_id": step}),
        "open_steps(unit)": ("open_steps", {"unit": valid_or_hostile(DESK, "NOPE")}),
        "open_steps(officer)": ("open_steps", {"officer": officer}),
        "open_steps(dossier)": ("open_steps", {"dossier": code}),
        "audit_rows": ("audit_rows", {"dossier": code}),
        "units_at_fault": ("units_at_fault", {"dossier": code}),
        "faults": ("faults", {"dossier": code}),
        "control_sheet": ("control_sheet", {"dossier": code}),
        "procedure": ("procedure", {"code_or_version": valid_or_hostile("233448", "9.99")}),
        "load_procedure": ("load_procedure", {
            "source": valid_or_hostile(b"<x/>", b"", str(KHAI_SINH), "/nonexistent.bpmn"),
            "name": valid_or_hostile(None, "k.bpmn"),
        }),
        "load_procedures": ("load_procedures", {"folder": valid_or_hostile("/nonexistent")}),
    }


def _refused_cleanly(error: BaseException, *, printable: bool = True) -> None:
    """What a caller may receive: a LienthongError that is not a bug, with a message that can be
    printed (``printable``: the Engine refuses text with lone surrogates up front, while the
    loading functions name a path as given, and a file name not in UTF-8 is a real one)."""
    if isinstance(error, KeyboardInterrupt):
        raise error  # the tester's Ctrl-C
    assert isinstance(error, LienthongError), f"{type(error).__name__} escaped: {error!r}"
    assert not isinstance(error, InternalError), f"an unforeseen path: {error.__cause__!r}"
    if printable:
        str(error).encode("utf-8")


@settings(SETTINGS, max_examples=60)
@given(st.data())
def test_every_command_answers_hostile_input_with_a_lienthong_error(
    world: World, data: st.DataObject
) -> None:
    table = commands(world)
    name = data.draw(st.sampled_from(sorted(table)), label="command")
    method, strategies = table[name]
    kwargs = {k: data.draw(s, label=k) for k, s in strategies.items()}
    engine = world.fresh()
    before = snapshot(engine)
    try:
        getattr(engine, method)(**kwargs)
    except BaseException as e:  # what escapes, whatever it is
        _refused_cleanly(e)
        # tick commits each action before the next one may fail: only a refusal up front leaves
        # everything as it was.
        if method != "tick" or isinstance(e, InvalidData):
            assert snapshot(engine) == before, f"{name} raised {e!r} but changed the store"
    world.dirty = world.dirty or snapshot(engine) != before


@settings(SETTINGS, max_examples=20)
@given(st.data())
def test_engine_construction_answers_hostile_options_with_a_lienthong_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    # An Engine that took -1 for a path would create the file "-1": here, not in the checkout.
    monkeypatch.chdir(tmp_path)
    not_a_db = tmp_path / "not-a-db.txt"
    not_a_db.write_text("hello")
    # No random text for db: a plain name would create that file in the working directory.
    db = st.one_of(
        st.sampled_from([":memory:", str(not_a_db), str(tmp_path), str(tmp_path / "no" / "x.db"),
                         "\ud800.db", "a\x00b.db", b"x.db"]),
        st.sampled_from([o for o in _ODD if not isinstance(o, str)]),
    )
    options = {
        "db": data.draw(db, label="db"),
        "org": data.draw(
            valid_or_hostile(demo_organisation(), DEMO_ORG, str(not_a_db)), label="org"
        ),
        "clock": data.draw(valid_or_hostile(None, FixedClock(START)), label="clock"),
        "calendar": data.draw(valid_or_hostile(None, WorkingCalendar.default()), label="calendar"),
        "plugins": data.draw(valid_or_hostile((), [FakeAgencies()]), label="plugins"),
        "entry_points": False,
        "scripts": data.draw(valid_or_hostile("restricted", "python"), label="scripts"),
        "script_time_budget": data.draw(valid_or_hostile(1.0, 0.5), label="script_time_budget"),
        "durability": data.draw(valid_or_hostile("normal", "full"), label="durability"),
        "checkpoints": data.draw(valid_or_hostile("background", "inline"), label="checkpoints"),
        "supplement_window": data.draw(valid_or_hostile(1440), label="supplement_window"),
        "supplements_per_unit": data.draw(valid_or_hostile(1, 0), label="supplements_per_unit"),
    }
    try:
        engine = Engine(**options)
    except BaseException as e:
        _refused_cleanly(e)
    else:
        engine.close()


_CALENDAR_CALLS: dict[str, Callable[[WorkingCalendar, Any, Any], object]] = {
    "add": lambda c, a, b: c.add(a, days=b),
    "add(hours)": lambda c, a, b: c.add(a, hours=b),
    "add_minutes": lambda c, a, b: c.add_minutes(a, b),
    "subtract": lambda c, a, b: c.subtract(a, days=b),
    "between": lambda c, a, b: c.between(a, b),
    "is_working_day": lambda c, a, b: c.is_working_day(a),
    "is_working_time": lambda c, a, b: c.is_working_time(a),
    "next_working_instant": lambda c, a, b: c.next_working_instant(a),
    "same_day_due": lambda c, a, b: c.same_day_due(a),
    "days_off": lambda c, a, b: c.days_off(a),
    "weekend_workdays": lambda c, a, b: c.weekend_workdays(a),
    "with_overlays": lambda c, a, b: c.with_overlays(a),
    "from_files": lambda c, a, b: WorkingCalendar.from_files(a),
}


@settings(SETTINGS, max_examples=15)
@given(
    st.sampled_from(sorted(_CALENDAR_CALLS)),
    valid_or_hostile(START, date(2025, 3, 3), 2025),
    valid_or_hostile(1, 0.5, START + timedelta(days=1)),
)
def test_calendar_methods_answer_hostile_input_with_a_lienthong_error(
    name: str, a: Any, b: Any
) -> None:
    try:
        _CALENDAR_CALLS[name](WorkingCalendar.default(), a, b)
    except BaseException as e:
        _refused_cleanly(e, printable=name != "from_files")


@settings(SETTINGS, max_examples=10)
@given(st.sampled_from(["load_procedure", "Organisation.from_file"]), HOSTILE)
def test_loading_functions_answer_hostile_input_with_a_lienthong_error(
    name: str, value: Any
) -> None:
    try:
        load_procedure(value) if name == "load_procedure" else Organisation.from_file(value)
    except BaseException as e:
        _refused_cleanly(e, printable=False)


# -- the cases the hardening issue found, one by one ---------------------------------------------


@pytest.fixture
def desk_engine(engine: Engine) -> tuple[Engine, str, int]:
    code = engine.receive(
        "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS
    ).code
    [step] = engine.open_steps(dossier=code)
    return engine, code, step.id


LONE = "Nguy\udcc3\udcaan"  # "Nguyễn"'s bytes decoded as if they were not UTF-8


@pytest.mark.parametrize(
    ("argument", "call"),
    [
        ("applicant.name", lambda e, c, s: e.receive(
            "233448", applicant={"name": LONE}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS)),
        ("receiving_unit", lambda e, c, s: e.receive(
            "233448", applicant={"name": "A"}, receiving_unit=LONE, documents=BIRTH_DOCUMENTS)),
        ("officer", lambda e, c, s: e.receive(
            "233448", applicant={"name": "A"}, receiving_unit=DESK, officer=LONE,
            documents=BIRTH_DOCUMENTS)),
        ("documents[1]", lambda e, c, s: e.receive(
            "233448", applicant={"name": "A"}, receiving_unit=DESK,
            documents=["to_khai_lien_thong", LONE])),
        ("unit", lambda e, c, s: e.open_steps(unit=LONE)),
        ("officer", lambda e, c, s: e.open_steps(officer=LONE)),
        ("dossier", lambda e, c, s: e.open_steps(dossier=LONE)),
        ("code", lambda e, c, s: e.dossier(LONE)),
        ("dossier", lambda e, c, s: e.complete(LONE, s, "tran.thi.mai")),
        ("officer", lambda e, c, s: e.claim(c, s, LONE)),
        ("reason", lambda e, c, s: e.withdraw(c, reason=LONE)),
        ("missing[0]", lambda e, c, s: e.request_supplement(
            c, officer="tran.thi.mai", missing=[LONE], reason="r")),
        ("note", lambda e, c, s: e.start_obligation(c, officer="tran.thi.mai", note=LONE)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_lone_surrogate_is_invalid_data_naming_the_argument(
    desk_engine: tuple[Engine, str, int], argument: str, call: Callable[..., object]
) -> None:
    engine, code, step_id = desk_engine
    before = snapshot(engine)
    with pytest.raises(InvalidData, match=f"^{re.escape(argument)}: ") as info:
        call(engine, code, step_id)
    assert "surrogate" in str(info.value)
    str(info.value).encode("utf-8")
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "data",
    [{"tags": {"a", "b"}}, {"deep": _deep(100_000)}, {"n": float("nan")}, {"n": 2**70}],
    ids=["set", "100000-deep", "nan", "huge-int"],
)
def test_data_that_would_not_read_back_is_invalid_data(
    desk_engine: tuple[Engine, str, int], data: dict[str, Any]
) -> None:
    engine, code, step_id = desk_engine
    before = snapshot(engine)
    with pytest.raises(InvalidData):
        engine.complete(code, step_id, "tran.thi.mai", data)
    with pytest.raises(InvalidData):
        engine.receive("233448", applicant={"name": "A", **data}, receiving_unit=DESK,
                       documents=BIRTH_DOCUMENTS)
    assert snapshot(engine) == before


def test_step_ids_are_integers_and_any_integer_may_be_looked_for(
    desk_engine: tuple[Engine, str, int],
) -> None:
    engine, code, step_id = desk_engine
    for wrong in ("1", 1.0, None, True, [step_id]):
        with pytest.raises(InvalidData, match=r"^step_id: expected an integer"):
            engine.claim(code, wrong, "tran.thi.mai")  # type: ignore[arg-type]
    for missing in (-1, 0, 2**63, -(2**70), 10**4000):
        with pytest.raises(StepNotFound, match=code):
            engine.step(code, missing)
    with pytest.raises(DossierNotFound):  # the dossier first, as for any other id
        engine.complete("NOPE-1", 2**70, "tran.thi.mai")


# -- the facade's last line of defence -----------------------------------------------------------


def test_every_public_method_is_guarded() -> None:
    public = [n for n in dir(Engine) if not n.startswith("_") and callable(getattr(Engine, n))]
    assert len(public) > 20
    unguarded = [
        n for n in [*public, "__init__"] if not hasattr(getattr(Engine, n), "__lienthong_guarded__")
    ]
    assert unguarded == []


@pytest.mark.sqlite_only  # SQLite's own errors
def test_sqlite_errors_are_store_errors_naming_the_command_and_the_file(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database, just text\n" * 100)
    # The store names the file and SQLite's error itself when it cannot open it.
    with pytest.raises(StoreError, match=rf"{not_a_db}: .*not a database") as info:
        make_engine(not_a_db)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    engine = make_engine(tmp_path / "closed.db")
    path = tmp_path / "closed.db"
    engine.close()
    with pytest.raises(StoreError, match=rf"^dossiers\(\): the store {path}: .*closed"):
        engine.dossiers()


def test_an_unexpected_error_is_an_internal_error_keeping_the_original(
    desk_engine: tuple[Engine, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, code, step_id = desk_engine
    bug = TypeError("unhashable type: 'list'")

    def broken(*args: object, **kwargs: object) -> None:
        raise bug

    monkeypatch.setattr(engine._steps, "claim", broken)
    bug_report = r"^claim\(\): unexpected TypeError: .* \(a bug in lienthong: please report it"
    with pytest.raises(InternalError, match=bug_report) as info:
        engine.claim(code, step_id, "tran.thi.mai")
    assert info.value.__cause__ is bug


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, MemoryError])
def test_what_stops_the_process_is_not_translated(
    desk_engine: tuple[Engine, str, int], monkeypatch: pytest.MonkeyPatch, stop: type
) -> None:
    engine, code, step_id = desk_engine

    def stopped(*args: object, **kwargs: object) -> None:
        raise stop()

    monkeypatch.setattr(engine._steps, "claim", stopped)
    with pytest.raises(stop):
        engine.claim(code, step_id, "tran.thi.mai")


def test_a_half_built_engine_closes_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "broken.bpmn").write_bytes(b"<not-bpmn")

    class Folders:
        @hookimpl
        def procedure_dirs(self) -> list[Path]:
            return [folder]

    path = tmp_path / "half.db"
    with pytest.raises(ProcedureError, match=r"broken\.bpmn"):
        Engine(path, org=demo_organisation(), plugins=[Folders()], entry_points=False)
    assert not [t for t in threading.enumerate() if str(path) in t.name]


# -- scripts -------------------------------------------------------------------------------------


def _with_script(script: bytes, mode: str) -> tuple[Engine, str, int]:
    engine = Engine(":memory:", org=demo_organisation(), clock=FixedClock(START),
                    plugins=[FakeAgencies()], entry_points=False, scripts=mode)
    data = KHAI_SINH.read_bytes().replace(
        b"forwarded_to = ['police-residence', 'social-insurance']", script
    )
    assert script in data
    engine.load_procedure(data, name="k.bpmn")
    code = engine.receive(
        "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS
    ).code
    [step] = engine.open_steps(unit=DESK)
    engine.complete(code, step.id, "tran.thi.mai")
    [birth] = engine.open_steps(unit=COMMUNE)
    return engine, code, birth.id


@pytest.mark.parametrize("mode", ["restricted", "python"])
@pytest.mark.parametrize(
    "script",
    [
        b"raise SystemExit(3)",
        b"raise GeneratorExit",
        b"raise BaseException('bye')",
        b"forwarded_to = (lambda: (x for x in ()).throw(SystemExit))()",
    ],
    ids=["SystemExit", "GeneratorExit", "BaseException", "thrown-into-a-generator"],
)
def test_a_script_cannot_stop_the_engine(script: bytes, mode: str) -> None:
    engine, code, step_id = _with_script(script, mode)
    officer = engine.org.members(COMMUNE)[0].id
    before = snapshot(engine)
    with pytest.raises(ScriptError, match=r"element 'forward'.*would stop the engine"):
        engine.complete(code, step_id, officer, {"birth_certificate_no": "1"})
    assert snapshot(engine) == before
    engine.close()


def test_a_restricted_script_cannot_fake_a_ctrl_c() -> None:
    engine, code, step_id = _with_script(b"raise KeyboardInterrupt", "restricted")
    officer = engine.org.members(COMMUNE)[0].id
    with pytest.raises(ScriptError, match="KeyboardInterrupt"):
        engine.complete(code, step_id, officer, {"birth_certificate_no": "1"})
    engine.close()


def test_a_condition_cannot_stop_the_engine(make_engine: Callable[..., Engine]) -> None:
    from test_script_limits import _bpmn

    engine = make_engine()
    engine.load_procedure(
        _bpmn(condition="(lambda: (x for x in ()).throw(SystemExit))()"), name="limits.bpmn"
    )
    code = engine.receive("9.000001", applicant={"name": "A"}, receiving_unit=DESK).code
    [step] = engine.open_steps(dossier=code)
    before = snapshot(engine)
    with pytest.raises(ScriptError, match=r"element 'decide'.*SystemExit"):
        engine.complete(code, step.id, "tran.thi.mai")
    assert snapshot(engine) == before
