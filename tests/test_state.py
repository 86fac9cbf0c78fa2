"""The stored workflow state: restored at every wait state, it is the same workflow."""

from __future__ import annotations

from typing import Any

from lienthong import Engine, FixedClock, load_procedure
from lienthong.bpmn.scripts import make_script_engine
from lienthong.bpmn.state import default_serializer, dump_state, load_state
from support import DESK, KHAI_SINH, LAND


def _picture(wf: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (str(t.id), t.task_spec.name, t.state, str(t._parent), sorted(map(str, t._children)),
         repr(sorted(t.data.items())))
        for t in wf.tasks.values()
    )


def test_round_trip_at_every_wait_state(engine: Engine, clock: FixedClock) -> None:
    code = engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK,
                          documents=["to_khai_lien_thong", "giay_chung_sinh"],
                          data={"child": {"name": "Bé B", "nested": [1, {"x": 2}]}}).code
    proc = engine.procedure("233448")
    seen = 0
    while not engine.dossier(code).is_closed:
        wf = engine._ctx.workflows.load(engine.db, engine.dossier(code))
        blob = dump_state(wf)
        again = load_state(blob, proc.spec, proc.subprocess_specs, make_script_engine())
        assert _picture(again) == _picture(wf)
        assert dump_state(again) == blob
        seen += 1
        step = engine.open_steps(dossier=code)[0]
        clock.advance(hours=1)
        engine.complete(code, step.id, engine.org.members(step.unit)[0].id,
                        {"birth_certificate_no": "1", "residence_registration_no": "2"})
    assert seen >= 5


def test_state_is_a_fraction_of_spiffworkflows_own_serialization() -> None:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    for path in (KHAI_SINH, LAND):
        proc = load_procedure(path)
        wf = BpmnWorkflow(proc.spec, proc.subprocess_specs)
        wf.do_engine_steps()
        ours = len(dump_state(wf))
        theirs = len(default_serializer().serialize_json(wf).encode())
        assert ours * 2 <= theirs, (path.name, ours, theirs)


def test_the_spiffworkflow_layout_round_trips_too(engine: Engine, clock: FixedClock) -> None:
    """LT1, for workflows the flat layout does not cover (pending BPMN events, subprocesses)."""
    from lienthong.bpmn.state import _dump_spiff

    code = engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK,
                          documents=["to_khai_lien_thong", "giay_chung_sinh"]).code
    step = engine.open_steps(dossier=code)[0]
    engine.complete(code, step.id, "tran.thi.mai")
    proc = engine.procedure("233448")
    wf = engine._ctx.workflows.load(engine.db, engine.dossier(code))
    blob = _dump_spiff(wf)
    assert blob.startswith(b"LT1")
    again = load_state(blob, proc.spec, proc.subprocess_specs, make_script_engine())
    assert _picture(again) == _picture(wf)
