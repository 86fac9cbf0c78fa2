"""Bad input: a clear lienthong error that names the thing, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lienthong import (
    DossierClosed,
    DossierNotFound,
    Engine,
    FixedClock,
    InvalidData,
    NotAllowed,
    ProcedureError,
    ScriptError,
    StepClosed,
    StepNotFound,
    UnknownProcedure,
)
from support import BHXH, COMMUNE, DESK, KHAI_SINH, POLICE, officer_of, snapshot

DOCS = ["to_khai_lien_thong", "giay_chung_sinh"]


@pytest.fixture
def received(engine: Engine) -> str:
    return engine.receive(
        "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=DOCS
    ).code


def _unchanged(
    engine: Engine, call: Callable[[], object], error: type[Exception], *words: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for w in words:
        assert w in message, message
    assert snapshot(engine) == before


def test_malformed_bpmn_names_the_file_and_line(engine: Engine) -> None:
    bad = KHAI_SINH.read_bytes().replace(b"</bpmn:userTask>", b"</bpmn:userTsk>", 1)
    _unchanged(
        engine,
        lambda: engine.load_procedure(bad, name="broken.bpmn"),
        ProcedureError,
        "broken.bpmn",
        "line",
    )


def test_bpmn_without_lanes_is_refused(engine: Engine) -> None:
    from lxml import etree

    root = etree.fromstring(KHAI_SINH.read_bytes())
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    for lane_set in root.xpath("//bpmn:laneSet", namespaces=ns):
        lane_set.getparent().remove(lane_set)
    data = etree.tostring(root)
    _unchanged(
        engine,
        lambda: engine.load_procedure(data, name="nolanes.bpmn"),
        ProcedureError,
        "nolanes.bpmn",
        "no lanes",
    )


def test_missing_property_and_bad_duration_name_the_element(engine: Engine) -> None:
    no_code = KHAI_SINH.read_bytes().replace(b'name="lienthong:procedure-code"', b'name="x"')
    _unchanged(
        engine,
        lambda: engine.load_procedure(no_code, name="k.bpmn"),
        ProcedureError,
        "lienthong:procedure-code",
        "khai_sinh_thuong_tru_bhyt",
    )
    bad_share = KHAI_SINH.read_bytes().replace(b'value="1d"', b'value="one day"', 1)
    _unchanged(
        engine,
        lambda: engine.load_procedure(bad_share, name="k.bpmn"),
        ProcedureError,
        "register_birth",
        "one day",
        "lienthong:share",
    )


def test_shares_that_do_not_fit_the_deadline_name_the_path(engine: Engine) -> None:
    data = KHAI_SINH.read_bytes().replace(b'value="2d"', b'value="3d"', 1)
    _unchanged(
        engine,
        lambda: engine.load_procedure(data, name="k.bpmn"),
        ProcedureError,
        "register_birth",
        "register_residence",
        "4d",
        "3d",
    )


def test_script_that_imports_os_is_refused_at_load(engine: Engine) -> None:
    data = KHAI_SINH.read_bytes().replace(b"forwarded_to = ", b"import os\nforwarded_to = ")
    _unchanged(
        engine,
        lambda: engine.load_procedure(data, name="k.bpmn"),
        ProcedureError,
        "forward",
        "import os",
    )


def test_unknown_procedure(engine: Engine) -> None:
    _unchanged(
        engine,
        lambda: engine.receive("9.999999", applicant={"name": "A"}, receiving_unit=DESK),
        UnknownProcedure,
        "9.999999",
    )


def test_missing_documents_and_bad_applicant(engine: Engine) -> None:
    _unchanged(
        engine,
        lambda: engine.receive(
            "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=DOCS[:1]
        ),
        InvalidData,
        "giay_chung_sinh",
    )
    _unchanged(
        engine,
        lambda: engine.receive("233448", applicant={}, receiving_unit=DESK, documents=DOCS),
        InvalidData,
        "name",
    )
    _unchanged(
        engine,
        lambda: engine.receive(
            "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=DOCS, channel=9
        ),
        InvalidData,
        "channel",
    )


def test_wrong_unit_officer(engine: Engine, received: str) -> None:
    [step] = engine.open_steps(unit=DESK)
    _unchanged(
        engine,
        lambda: engine.complete(received, step.id, officer_of(engine, POLICE)),
        NotAllowed,
        officer_of(engine, POLICE),
        DESK,
        "Tiếp nhận hồ sơ",
    )
    _unchanged(
        engine, lambda: engine.claim(received, step.id, officer_of(engine, BHXH)), NotAllowed, DESK
    )


def test_claimed_by_someone_else(engine: Engine, received: str) -> None:
    [step] = engine.open_steps(unit=DESK)
    a, b = [o.id for o in engine.org.members(DESK)][:2]
    engine.claim(received, step.id, a)
    _unchanged(engine, lambda: engine.complete(received, step.id, b), NotAllowed, a)


def test_unknown_dossier_and_step(engine: Engine, received: str) -> None:
    _unchanged(
        engine, lambda: engine.complete("NOPE-1", 1, "tran.thi.mai"), DossierNotFound, "NOPE-1"
    )
    _unchanged(
        engine,
        lambda: engine.complete(received, 999, "tran.thi.mai"),
        StepNotFound,
        "999",
        received,
    )


def test_double_completion(engine: Engine, received: str) -> None:
    [step] = engine.open_steps(unit=DESK)
    engine.complete(received, step.id, "tran.thi.mai")
    _unchanged(
        engine,
        lambda: engine.complete(received, step.id, "tran.thi.mai"),
        StepClosed,
        str(step.id),
        "Tiếp nhận hồ sơ",
        "done",
    )


def test_malformed_data(engine: Engine, received: str) -> None:
    [step] = engine.open_steps(unit=DESK)
    engine.complete(received, step.id, "tran.thi.mai")
    [birth] = engine.open_steps(unit=COMMUNE)
    who = officer_of(engine, COMMUNE)
    _unchanged(
        engine,
        lambda: engine.complete(received, birth.id, who, {}),
        InvalidData,
        "birth_certificate_no",
        "Đăng ký khai sinh",
    )
    _unchanged(
        engine,
        lambda: engine.complete(received, birth.id, who, {"birth_certificate_no": object()}),
        InvalidData,
        "JSON",
    )
    _unchanged(
        engine,
        lambda: engine.complete(received, birth.id, who, {"birth_certificate_no": "KS-1",
                                                          "weight_kg": float("nan")}),
        InvalidData,
        "not plain data (JSON)",
        f"step {birth.id}",
    )
    _unchanged(
        engine,
        lambda: engine.complete(received, birth.id, who, {"__class__": 1}),
        InvalidData,
        "__class__",
    )
    _unchanged(
        engine,
        lambda: engine.complete(received, birth.id, who, ["x"]),  # type: ignore
        InvalidData,
        "mapping",
    )


def test_finished_dossier(engine: Engine, received: str, clock: FixedClock) -> None:
    from support import run_to_end

    run_to_end(engine, received, clock)
    last = engine.steps(received)[-1]
    _unchanged(
        engine, lambda: engine.complete(received, last.id, "tran.thi.mai"), DossierClosed, received
    )
    _unchanged(engine, lambda: engine.withdraw(received, reason="x"), DossierClosed, received)


def test_script_importing_os_at_run_time_with_python_scripts_off(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    """A deployment that opted into full Python loads the file; the restricted default never runs
    it: even loading the stored version back is refused."""
    data = KHAI_SINH.read_bytes().replace(
        b"forwarded_to = ['police-residence', 'social-insurance']",
        b"import os\nforwarded_to = [os.sep]\ndel os",
    )
    full = make_engine(tmp_path / "full.db", scripts="python")
    full.load_procedure(data, name="k.bpmn")
    code = full.receive("233448", applicant={"name": "A"}, receiving_unit=DESK, documents=DOCS).code
    [step] = full.open_steps(unit=DESK)
    full.complete(code, step.id, "tran.thi.mai")
    [birth] = full.open_steps(unit=COMMUNE)
    full.complete(code, birth.id, officer_of(full, COMMUNE), {"birth_certificate_no": "1"})
    assert len(full.open_steps(unit=POLICE)) == 1  # full Python ran the import
    full.close()
    restricted = make_engine(tmp_path / "full.db")
    with pytest.raises(ProcedureError, match="import os"):
        restricted.procedure("233448")


def test_restricted_runtime_errors_are_script_errors(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    for script, word in [
        (b"forwarded_to = open('/etc/passwd').read()", "open"),
        (b"forwarded_to = getattr(applicant, 'mro')", "getattr"),
        (b"forwarded_to = 1 / 0", "division"),
    ]:
        engine = make_engine(tmp_path / f"{word}.db")
        data = KHAI_SINH.read_bytes().replace(
            b"forwarded_to = ['police-residence', 'social-insurance']", script
        )
        assert script in data
        engine.load_procedure(data, name="k.bpmn")
        code = engine.receive(
            "233448", applicant={"name": "A"}, receiving_unit=DESK, documents=DOCS
        ).code
        [step] = engine.open_steps(unit=DESK)
        engine.complete(code, step.id, "tran.thi.mai")
        [birth] = engine.open_steps(unit=COMMUNE)
        _unchanged(
            engine,
            lambda e=engine, c=code, b=birth: e.complete(
                c, b.id, officer_of(e, COMMUNE), {"birth_certificate_no": "1"}
            ),
            ScriptError,
            "forward",
            word if word != "division" else "forward",
        )


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b'<bpmn:userTask id="review_card"', b'<bpmn:callActivity id="review_card"',
         ["review_card", "call activities"]),
        (b"</bpmn:startEvent>",
         b'<bpmn:timerEventDefinition id="t1"/></bpmn:startEvent>', ["timer events"]),
    ],
)
def test_what_the_engine_cannot_run_is_refused_at_load(
    engine: Engine, old: bytes, new: bytes, words: list[str]
) -> None:
    data = KHAI_SINH.read_bytes().replace(old, new, 1)
    if b"callActivity" in new:
        start = data.index(b'<bpmn:callActivity id="review_card"')
        end = data.index(b"</bpmn:userTask>", start)
        data = data[:end] + b"</bpmn:callActivity>" + data[end + len(b"</bpmn:userTask>"):]
    _unchanged(engine, lambda: engine.load_procedure(data, name="k.bpmn"), ProcedureError, *words)


def test_a_plain_task_is_a_user_step(engine: Engine, clock: FixedClock) -> None:
    data = KHAI_SINH.read_bytes()
    start = data.index(b'<bpmn:userTask id="review_card"')
    end = data.index(b"</bpmn:userTask>", start)
    data = (data[:start] + b"<bpmn:task" + data[start + len(b"<bpmn:userTask"):end]
            + b"</bpmn:task>" + data[end + len(b"</bpmn:userTask>"):])
    engine.load_procedure(data, name="plain-task.bpmn")
    from support import run_to_end

    code = engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK,
                          documents=DOCS).code
    run_to_end(engine, code, clock)
    assert "review_card" in [s.spec_id for s in engine.steps(code) if s.kind == "user"]
