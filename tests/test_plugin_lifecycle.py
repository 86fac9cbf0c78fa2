"""Plugins seen from the inside: which hook is called when, with what, and what a failing plugin
does to the store.

* a recorder implementing *every* hook spec (generated from hookspecs.py, so that a new hook is
  recorded too) follows one khai sinh dossier from reception to the return of the result;
* a plugin raising in ``handoff`` during ``complete()`` leaves the SQLite file byte for byte as it
  was, and the PluginError names the plugin, the hook and the dossier;
* a failing service operation leaves its step failed with a ``service_failed`` audit row, and
  ``retry()`` completes it;
* a procedure naming an operation no plugin performs does not load.
"""

from __future__ import annotations

import inspect
import types
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from lienthong import (
    VN_TZ,
    Engine,
    FixedClock,
    Organisation,
    PluginError,
    ProcedureError,
    Status,
    hookimpl,
)
from lienthong.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]
KHAI_SINH = ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn"
DEMO_ORG = resources.files("lienthong") / "data" / "demo-org.toml"
DESK = "000.00.01.H29"
STEP_DATA = {"register_birth": {"birth_certificate_no": "15/2025"},
             "register_residence": {"residence_registration_no": "TT-2025-0015"}}
LIFECYCLE = {"dossier_received", "handoff", "result_returned", "supplement_requested",
             "supplement_received", "dossier_withdrawn"}

Call = tuple[str, dict[str, Any]]


class Agencies:
    """Performs the procedure's two service operations; ``issue_card`` fails while ``down``."""

    __name__ = "agencies"

    def __init__(self, down: bool = False) -> None:
        self.down = down

    @hookimpl
    def operations(self) -> list[str]:
        return ["police.record_residence", "social_insurance.issue_card"]

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any]:
        if operation == "social_insurance.issue_card":
            if self.down:
                raise ConnectionError("the social-insurance system does not answer")
            return {"health_insurance_card": "TE1290000000001"}
        return {"residence_recorded": True}


def recorder(calls: list[Call]) -> object:
    """A plugin implementing every hook spec with the spec's own arguments; each call is
    appended to ``calls`` as (hook name, keyword arguments). It observes and decides nothing."""
    plugin = types.SimpleNamespace(__name__="recorder")
    for name, spec in vars(hookspecs).items():
        if not hasattr(spec, "lienthong_spec"):
            continue
        params = list(inspect.signature(spec).parameters)
        source = (f"def {name}({', '.join(params)}):\n"
                  f"    calls.append(({name!r}, dict({', '.join(f'{p}={p}' for p in params)})))\n")
        namespace: dict[str, Any] = {"calls": calls}
        exec(source, namespace)
        setattr(plugin, name, hookimpl(namespace[name]))
    return plugin


def new_engine(*plugins: object, db: str = ":memory:") -> Engine:
    engine = Engine(db, org=Organisation.from_file(str(DEMO_ORG)),
                    clock=FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)),
                    plugins=plugins, entry_points=False)
    engine.load_procedure(KHAI_SINH)
    return engine


def receive(engine: Engine) -> str:
    return engine.receive("233448", applicant={"name": "Nguyễn Văn An"}, receiving_unit=DESK,
                          documents=["to_khai_lien_thong", "giay_chung_sinh"]).code


def work(engine: Engine, code: str, *, until: str | None = None) -> None:
    """Complete open user steps, each by an officer of its unit, until the dossier is closed,
    no user step is open, or the step ``until`` is open."""
    while not engine.dossier(code).is_closed:
        users = [s for s in engine.steps(code) if s.is_open and s.kind == "user"]
        if not users or users[0].spec_id == until:
            return
        step = users[0]
        engine.clock.advance(minutes=30)  # type: ignore[attr-defined]
        engine.complete(code, step.id, engine.org.members(step.unit)[-1].id,
                        STEP_DATA.get(step.spec_id, {}))


def spec_of(step: Any) -> str | None:
    return step.spec_id if step is not None else None


# ---------------------------------------------------------------------------------------------
# The lifecycle, hook by hook
# ---------------------------------------------------------------------------------------------
def test_every_hook_call_of_one_dossier_in_order():
    calls: list[Call] = []
    engine = new_engine(Agencies(), recorder(calls))
    engine.pm.check_pending()

    loading = [name for name, _ in calls]
    assert loading == ["organisation_units", "calendar_overlays", "procedure_dirs", "operations"]

    calls.clear()
    code = receive(engine)
    work(engine, code)
    d = engine.dossier(code)
    assert d.status == Status.RETURNED

    names = [name for name, _ in calls]
    # Reception: documents and fee are decided before anything is stored.
    assert names[:2] == ["check_documents", "compute_fees"]
    assert calls[0][1]["procedure"].code == "233448"
    assert [doc["code"] for doc in calls[0][1]["documents"]] == ["to_khai_lien_thong",
                                                                 "giay_chung_sinh"]
    assert calls[0][1]["applicant"] == {"name": "Nguyễn Văn An"}

    # The lifecycle hooks, in order, with the steps they connect.
    lifecycle = [(n, spec_of(kw.get("from_step")), spec_of(kw.get("to_step")))
                 for n, kw in calls if n in LIFECYCLE]
    assert lifecycle == [
        ("handoff", None, "reception"),
        ("dossier_received", None, None),
        ("handoff", "reception", "register_birth"),
        ("handoff", "register_birth", "register_residence"),
        ("handoff", "register_birth", "review_card"),
        ("handoff", "register_residence", "record_residence"),
        ("handoff", "record_residence", None),
        ("handoff", "review_card", "issue_card"),
        ("handoff", "issue_card", "return_result"),
        ("result_returned", None, None),
    ]
    # After each command that changed the dossier, once committed, the portal's record.
    assert names[-2:] == ["result_returned", "portal_record_changed"]
    portal = [kw["record"]["TrangThaiHoSo"] for n, kw in calls if n == "portal_record_changed"]
    assert portal[0] == "2" and portal[-2:] == ["9", "10"]
    assert set(portal) == {"2", "4", "9", "10"} and portal == sorted(portal, key=int)

    # Every call is about this dossier; the dossier passed is the stored one at that moment.
    for name, kw in calls:
        if "dossier" in kw:
            assert kw["dossier"].code == code, name
    received = next(kw for n, kw in calls if n == "dossier_received")["dossier"]
    assert received.status == Status.ACCEPTED and received.appointment == d.appointment
    returned = next(kw for n, kw in calls if n == "result_returned")["dossier"]
    assert returned.status == Status.RETURNED and returned.closed_at is not None

    # handoff: a step just closed (by the officer, or 'system' for a service step) to a step
    # just opened, at the instant of the command.
    steps = {s.id: s for s in engine.steps(code)}
    for name, kw in calls:
        if name != "handoff":
            continue
        if kw["from_step"] is not None:
            closed = steps[kw["from_step"].id]
            assert kw["from_step"].status == "done"
            assert kw["at"] == closed.closed_at
            assert kw["from_step"].closed_by == closed.closed_by
        if kw["to_step"] is not None:
            assert kw["to_step"].opened_at == kw["at"]
            assert kw["to_step"].unit == steps[kw["to_step"].id].unit

    # audit_event: every row, in order, as stored; a handoff's row comes just before its hook.
    rows = [kw["row"] for n, kw in calls if n == "audit_event"]
    stored = engine.audit_rows(code)
    assert [r["id"] for r in rows] == [r["id"] for r in stored]
    assert [r["hash"] for r in rows] == [r["hash"] for r in stored]
    assert rows[0]["event"] == "received" and rows[-1]["event"] == "returned"
    for i, (name, _kw) in enumerate(calls):
        if name == "handoff" and i > 0 and calls[i - 1][0] == "audit_event":
            assert calls[i - 1][1]["row"]["event"] in ("received", "handoff")
    assert sum(n == "handoff" for n in names) == sum(
        r["event"] == "handoff" for r in stored) + 1  # + the reception handoff ("received")

    # perform_operation: once per service step, with the workflow data so far.
    ops = [kw for n, kw in calls if n == "perform_operation"]
    assert [kw["operation"] for kw in ops] == ["police.record_residence",
                                               "social_insurance.issue_card"]
    assert ops[0]["data"]["residence_registration_no"] == "TT-2025-0015"
    assert ops[1]["data"]["birth_certificate_no"] == "15/2025"
    assert all(kw["step"].kind == "service" for kw in ops)

    # choose_assignee: once per user step, with the unit's officers as candidates.
    chosen = [kw for n, kw in calls if n == "choose_assignee"]
    assert [kw["step"].spec_id for kw in chosen] == [
        "reception", "register_birth", "register_residence", "review_card", "return_result"]
    for kw in chosen:
        assert kw["unit"].code == kw["step"].unit
        assert kw["candidates"] == tuple(engine.org.members(kw["unit"].code))

    # No SLA hook fired: nothing was late, and tick() was never called.
    assert not {"step_warning", "step_overdue", "step_escalated", "apology_required"} & set(names)


def test_withdrawal_calls_dossier_withdrawn():
    calls: list[Call] = []
    engine = new_engine(Agencies(), recorder(calls))
    code = receive(engine)
    calls.clear()
    engine.withdraw(code, reason="Gia đình xin rút hồ sơ.")
    # Inside the command, then once it has committed, the portal's record.
    assert [n for n, _ in calls] == ["audit_event", "dossier_withdrawn", "portal_record_changed"]
    kw = calls[1][1]
    assert kw["reason"] == "Gia đình xin rút hồ sơ."
    assert kw["dossier"].status == Status.WITHDRAWN
    assert calls[-1][1]["record"]["TrangThaiHoSo"] == "7"


# ---------------------------------------------------------------------------------------------
# A plugin that raises: nothing is stored
# ---------------------------------------------------------------------------------------------
class FlakyHandoff:
    __name__ = "flaky-handoff"

    def __init__(self) -> None:
        self.armed = False

    @hookimpl
    def handoff(self, to_step: Any, db: Any) -> None:
        db["flaky_log"].insert({"to": spec_of(to_step)})  # written, then rolled back
        if self.armed:
            raise RuntimeError("the portal sync is down")


def snapshot(engine: Engine, path: Path) -> tuple[bytes, list[str]]:
    """The file's bytes after a full checkpoint, and a dump of every table."""
    engine.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    return path.read_bytes(), list(engine.db.conn.iterdump())


def test_a_raising_handoff_leaves_the_file_unchanged(tmp_path):
    flaky = FlakyHandoff()
    path = tmp_path / "lienthong.db"
    engine = new_engine(Agencies(), flaky, db=str(path))
    code = receive(engine)
    work(engine, code, until="register_birth")
    step = next(s for s in engine.steps(code) if s.spec_id == "register_birth")
    before = snapshot(engine, path)
    audit_before = engine.audit_rows(code)

    flaky.armed = True
    engine.clock.advance(minutes=30)  # type: ignore[attr-defined]
    with pytest.raises(PluginError) as e:
        engine.complete(code, step.id, "trieu.thi.hanh", {"birth_certificate_no": "15/2025"})
    message = str(e.value)
    assert "'flaky-handoff'" in message
    assert "'handoff'" in message
    assert code in message
    assert "RuntimeError: the portal sync is down" in message

    after = snapshot(engine, path)
    assert after[1] == before[1]  # every table, the audit and the plugin's own included
    assert after[0] == before[0]  # byte for byte
    assert engine.audit_rows(code) == audit_before
    assert engine.step(code, step.id).is_open
    assert engine.verify_audit().ok

    # The engine goes on from where it was.
    flaky.armed = False
    engine.complete(code, step.id, "trieu.thi.hanh", {"birth_certificate_no": "15/2025"})
    assert {s.spec_id for s in engine.steps(code) if s.is_open} == {"register_residence",
                                                                     "review_card"}


# ---------------------------------------------------------------------------------------------
# A failing service operation, then a retry
# ---------------------------------------------------------------------------------------------
def test_a_failing_operation_is_recorded_then_retried():
    agencies = Agencies(down=True)
    engine = new_engine(agencies)
    code = receive(engine)
    work(engine, code)  # every user step it can: the card step fails, the return never opens

    card = next(s for s in engine.steps(code) if s.spec_id == "issue_card")
    assert card.is_open and card.status == "failed"
    assert card.attempts == 1
    assert "plugin 'agencies' failed in hook 'perform_operation'" in card.last_error
    assert code in card.last_error
    assert "ConnectionError: the social-insurance system does not answer" in card.last_error
    failed = [r for r in engine.audit_rows(code) if r["event"] == "service_failed"]
    assert len(failed) == 1
    assert failed[0]["step_id"] == card.id and failed[0]["note"] == card.last_error
    assert engine.dossier(code).status == Status.PROCESSING
    assert not [s for s in engine.steps(code) if s.spec_id == "return_result"]

    with pytest.raises(PluginError, match="does not answer"):
        engine.retry(code, card.id)
    assert engine.step(code, card.id).attempts == 2

    agencies.down = False
    d = engine.retry(code, card.id)
    card = engine.step(code, card.id)
    assert card.status == "done" and card.closed_by == "system"
    assert card.data == {"health_insurance_card": "TE1290000000001"}
    assert d.status == Status.RESOLVED  # 9: only the return is left
    engine.return_result(code, "nguyen.thu.ha")
    assert engine.dossier(code).status == Status.RETURNED
    assert engine.verify_audit().ok


def test_a_service_step_that_fails_after_opening_the_next_one_leaves_no_trace_of_it():
    # review_card made a service step: its completion opens issue_card, another service step,
    # and then a handoff hook fails. The savepoint takes issue_card's row back; the command must
    # not try to run the step it no longer has, and the officer's work stands.
    class ChainAgencies(Agencies):
        @hookimpl
        def operations(self) -> list[str]:
            return [*super().operations(), "social_insurance.review_card"]

    class FailAfterReview:
        __name__ = "fail-after-review"
        armed = True

        @hookimpl
        def handoff(self, from_step: Any, to_step: Any) -> None:
            if self.armed and spec_of(from_step) == "review_card":
                raise RuntimeError("the portal sync is down")

    engine = Engine(":memory:", org=Organisation.from_file(str(DEMO_ORG)),
                    clock=FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)),
                    plugins=[ChainAgencies(), (hook := FailAfterReview())], entry_points=False)
    bpmn = KHAI_SINH.read_bytes()
    start = bpmn.index(b'<bpmn:userTask id="review_card"')
    end = bpmn.index(b"</bpmn:userTask>", start) + len(b"</bpmn:userTask>")
    review = bpmn[start:end].replace(b"<bpmn:userTask", b"<bpmn:serviceTask").replace(
        b"</bpmn:userTask>", b"</bpmn:serviceTask>").replace(
        b'<camunda:property name="lienthong:share" value="2d"/>',
        b'<camunda:property name="lienthong:share" value="0"/>'
        b'<camunda:property name="lienthong:operation" value="social_insurance.review_card"/>')
    engine.load_procedure(bpmn[:start] + review + bpmn[end:], name="khai-sinh-chain.bpmn")
    code = receive(engine)
    work(engine, code, until="register_residence")  # reception, then the civil-status step

    review_step = next(s for s in engine.steps(code) if s.spec_id == "review_card")
    assert review_step.status == "failed" and "portal sync is down" in str(review_step.last_error)
    assert not [s for s in engine.steps(code) if s.spec_id == "issue_card"]
    assert {s.spec_id for s in engine.steps(code) if s.is_open} == {"register_residence",
                                                                     "review_card"}
    assert engine.verify_audit().ok

    hook.armed = False
    engine.retry(code, review_step.id)
    done = {s.spec_id: s.status for s in engine.steps(code)}
    assert done["review_card"] == "done" and done["issue_card"] == "done"
    work(engine, code)
    assert engine.dossier(code).status == Status.RETURNED
    assert engine.verify_audit().ok


def test_a_plugin_registered_later_is_called_and_one_unregistered_is_not():
    # The engine remembers which hooks have implementations; a change of registrations must
    # show at the next call.
    engine = new_engine(Agencies())
    receive(engine)  # dossier_received has no implementation yet: remembered as such
    calls: list[Call] = []
    late = recorder(calls)
    engine.pm.register(late, name="late")
    code = receive(engine)
    assert ("dossier_received", {"dossier": engine.dossier(code), "db": engine.db}) in [
        (n, {k: v for k, v in kw.items() if k in {"dossier", "db"}}) for n, kw in calls
    ]
    engine.pm.unregister(name="late")
    calls.clear()
    receive(engine)
    assert calls == []


# ---------------------------------------------------------------------------------------------
# Loading a procedure
# ---------------------------------------------------------------------------------------------
def test_an_unknown_operation_fails_to_load():
    engine = new_engine(Agencies())
    bpmn = KHAI_SINH.read_bytes().replace(b'value="social_insurance.issue_card"',
                                          b'value="social_insurance.issue_card_v2"')
    with pytest.raises(ProcedureError) as e:
        engine.load_procedure(bpmn, name="khai-sinh-v2.bpmn")
    message = str(e.value)
    assert "khai-sinh-v2.bpmn" in message
    assert 'service task "Cấp mã số BHXH và thẻ BHYT" (issue_card)' in message
    assert "[unknown-operation]" in message
    assert "'social_insurance.issue_card_v2'" in message
    assert [p.code for p in engine.procedures()] == ["233448"]  # the old version stays current


def test_a_plugin_may_take_fewer_arguments_than_the_spec():
    seen: list[str] = []

    class Minimal:
        @hookimpl
        def handoff(self, to_step: Any) -> None:
            seen.append(spec_of(to_step) or "-")

    engine = new_engine(Agencies(), Minimal())
    engine.pm.check_pending()
    receive(engine)
    assert seen == ["reception"]
