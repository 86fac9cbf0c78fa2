"""What a service step's operation is called with, when the command that opened the step runs it
right after committing (``services="inline"``): the step, the dossier and the task's data are read
in that command's transaction, so that nothing is read again between the commit and the call.

* the records the operation gets are the rows the commit left, as a fresh read builds them;
* two service steps one command opens both run once, with no result discarded: the second's
  inputs, read before the first's result moved the dossier on, are read again;
* in worker mode, and for a step run again after its result was discarded, the inputs are read
  after the commit, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lienthong import Engine, hookimpl
from lienthong.store.records import Dossier, Step
from support import KHAI_SINH, officer_of, receive_birth

DATA = {"birth_certificate_no": "KS-01", "residence_registration_no": "TT-01"}
OPS = {
    "register_residence": "police.register_residence",
    "review_card": "social_insurance.review_card",
    "record_residence": "police.record_residence",
    "issue_card": "social_insurance.issue_card",
}


class Agency:
    """Answers every operation of :data:`OPS`; keeps what each call got, and the step's and the
    dossier's rows as the operation's own connection reads them during the call."""

    __name__ = "agency"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def operations(self) -> list[str]:
        return list(OPS.values())

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any, step: Any, data: Any, db: Any) -> Any:
        step_row = next(db.query("SELECT * FROM steps WHERE id = ?", [step.id]))
        dossier_row = next(db.query("SELECT * FROM dossiers WHERE code = ?", [dossier.code]))
        self.calls.append(
            {
                "operation": operation,
                "step": step,
                "dossier": dossier,
                "data": dict(data),
                "stored_step": Step.from_row(step_row),
                "stored_dossier": Dossier.from_row(dossier_row),
            }
        )
        return {operation.split(".")[1] + "_done": True}


def _parallel_services() -> bytes:
    """The sample procedure with both branches after the split starting with a service step:
    completing 'Đăng ký khai sinh' opens two service steps in one command."""
    bpmn = KHAI_SINH.read_bytes()
    for spec, operation in (
        ("register_residence", OPS["register_residence"]),
        ("review_card", OPS["review_card"]),
    ):
        start = bpmn.index(f'<bpmn:userTask id="{spec}"'.encode())
        end = bpmn.index(b"</bpmn:userTask>", start) + len(b"</bpmn:userTask>")
        task = bpmn[start:end]
        props_start = task.index(b"<camunda:properties>") + len(b"<camunda:properties>")
        props_end = task.index(b"</camunda:properties>")
        task = (
            task[:props_start]
            + b'<camunda:property name="lienthong:share" value="0"/>'
            + f'<camunda:property name="lienthong:operation" value="{operation}"/>'.encode()
            + task[props_end:]
        )
        task = task.replace(b"<bpmn:userTask", b"<bpmn:serviceTask").replace(
            b"</bpmn:userTask>", b"</bpmn:serviceTask>"
        )
        bpmn = bpmn[:start] + task + bpmn[end:]
    return bpmn


def _work(engine: Engine, code: str) -> None:
    """Complete the open user steps until none is left but the hand-over of the result."""
    while True:
        steps = [s for s in engine.open_steps(dossier=code) if s.kind == "user"]
        if not steps or steps[0].spec_id == "return_result":
            return
        engine.complete(code, steps[0].id, officer_of(engine, steps[0].unit), DATA)


def _discarded(engine: Engine, code: str) -> list[dict[str, Any]]:
    return [r for r in engine.audit_rows(code) if r["event"] == "service_result_discarded"]


def test_the_call_gets_the_step_and_the_dossier_as_the_commit_stored_them(
    make_engine: Callable[..., Engine],
) -> None:
    agency = Agency()
    engine = make_engine(plugins=[agency])
    engine.load_procedure(KHAI_SINH)
    code = receive_birth(engine).code
    _work(engine, code)
    assert [c["operation"] for c in agency.calls] == [OPS["record_residence"], OPS["issue_card"]]
    for call in agency.calls:
        # Equal, and alike down to the instants' time zones (a record rebuilt from the row).
        assert call["step"] == call["stored_step"]
        assert repr(call["step"]) == repr(call["stored_step"])
        assert call["dossier"] == call["stored_dossier"]
        assert repr(call["dossier"]) == repr(call["stored_dossier"])
        assert call["step"].is_open and call["step"].leased_by is not None
        assert call["data"]["residence_registration_no"] == "TT-01"
    assert _discarded(engine, code) == []
    assert [s.spec_id for s in engine.open_steps(dossier=code)] == ["return_result"]


def test_two_service_steps_one_command_opens_each_run_once(
    make_engine: Callable[..., Engine],
) -> None:
    agency = Agency()
    engine = make_engine(plugins=[agency])
    engine.load_procedure(_parallel_services(), name="khai-sinh-services.bpmn")
    code = receive_birth(engine).code
    _work(engine, code)
    # register_birth's command opened both; each result then opened the next service step.
    assert sorted(c["operation"] for c in agency.calls) == sorted(OPS.values())
    assert len(agency.calls) == 4
    assert _discarded(engine, code) == []
    done = {s.spec_id: s.status for s in engine.steps(code) if s.kind == "service"}
    assert done == dict.fromkeys(OPS, "done")
    for call in agency.calls:
        assert call["step"] == call["stored_step"]
        assert call["dossier"] == call["stored_dossier"]
    assert [s.spec_id for s in engine.open_steps(dossier=code)] == ["return_result"]
    assert engine.verify_audit().ok


def test_a_worker_reads_the_inputs_after_the_commit(make_engine: Callable[..., Engine]) -> None:
    agency = Agency()
    engine = make_engine(plugins=[agency], services="worker")
    engine.load_procedure(_parallel_services(), name="khai-sinh-services.bpmn")
    code = receive_birth(engine).code
    _work(engine, code)
    assert agency.calls == []  # the commands leave the calls to the worker
    while engine.work().outcomes:
        pass
    assert sorted(c["operation"] for c in agency.calls) == sorted(OPS.values())
    for call in agency.calls:
        assert call["step"] == call["stored_step"]
        assert repr(call["dossier"]) == repr(call["stored_dossier"])
    assert _discarded(engine, code) == []
    assert [s.spec_id for s in engine.open_steps(dossier=code)] == ["return_result"]
