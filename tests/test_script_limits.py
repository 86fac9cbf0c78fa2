"""Restricted scripts and conditions run within a time and a size budget, and conditions are
checked as expressions when the file loads.

The time tests use a tiny budget and an endless loop, so their outcome does not depend on how fast
the machine is; the size tests must fail at once, before the huge value is computed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from lienthong import Engine, ProcedureError, ScriptError
from lienthong.bpmn.scripts import RestrictedEnvironment, check_script, make_script_engine
from support import DESK, snapshot

LOOP = "while True:\n    pass"
TINY = 0.02  # seconds: any endless loop spends it, however fast the machine


def _bpmn(
    on_receive: str = "received = True",
    on_complete: str = "reviewed = True",
    condition: str = "reviewed == True",
    condition_name: str = "",
) -> bytes:
    """A one-lane procedure: a script at reception, a user step, a script after it, and a gateway
    whose condition decides whether a second user step follows."""
    named = f' name="{condition_name}"' if condition_name else ""
    on_receive, on_complete, condition = (
        escape(t, quote=False) for t in (on_receive, on_complete, condition)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="t">
  <bpmn:process id="limits" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="lienthong:procedure-code" value="9.000001"/>
      <camunda:property name="lienthong:procedure-name" value="Thử giới hạn"/>
      <camunda:property name="lienthong:deadline" value="3d"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="desk"><bpmn:extensionElements><camunda:properties>
          <camunda:property name="lienthong:unit-role" value="one-stop-desk"/>
        </camunda:properties></bpmn:extensionElements>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>prepare</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>reception</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>tally</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>decide</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>approve</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:scriptTask id="prepare"><bpmn:script>{on_receive}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="reception"/>
    <bpmn:userTask id="reception" name="Tiếp nhận"><bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="lienthong:step-kind" value="reception"/>
        <camunda:property name="lienthong:share" value="1d"/>
      </camunda:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="reception" targetRef="tally"/>
    <bpmn:scriptTask id="tally"><bpmn:script>{on_complete}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="tally" targetRef="decide"/>
    <bpmn:exclusiveGateway id="decide" default="f_no"/>
    <bpmn:sequenceFlow id="f_yes" sourceRef="decide" targetRef="approve"{named}>
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="decide" targetRef="end"/>
    <bpmn:userTask id="approve" name="Phê duyệt"/>
    <bpmn:sequenceFlow id="f5" sourceRef="approve" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


@pytest.fixture
def limited(make_engine: Callable[..., Engine], tmp_path: Path) -> Callable[..., Engine]:
    """An Engine on a file in tmp_path with the test procedure, its scripts given as keywords."""
    count = iter(range(100))

    def make(*, time_budget: float = TINY, **scripts: str) -> Engine:
        engine = make_engine(tmp_path / f"limits-{next(count)}.db", script_time_budget=time_budget)
        engine.load_procedure(_bpmn(**scripts), name="limits.bpmn")
        return engine

    return make


def _receive(engine: Engine) -> Any:
    return engine.receive("9.000001", applicant={"name": "A"}, receiving_unit=DESK)


def _codes(engine: Engine) -> list[str]:
    return [row[0] for row in engine.db.execute("SELECT code FROM dossiers")]


@pytest.fixture
def tracer() -> Iterator[Callable[..., Any]]:
    """A trace function of the test's own (a stand-in for coverage or a debugger), restored
    afterwards whatever the test did."""
    previous = sys.gettrace()

    def trace(frame: Any, event: str, arg: Any) -> None:
        return None

    sys.settrace(trace)
    try:
        yield trace
    finally:
        sys.settrace(previous)


# -- time ------------------------------------------------------------------------------------------
def test_looping_script_at_reception_stops_and_the_dossier_is_not_stored(
    limited: Callable[..., Engine],
) -> None:
    engine = limited(on_receive=LOOP)
    before = snapshot(engine)
    with pytest.raises(ScriptError) as info:
        _receive(engine)
    message = str(info.value)
    assert "element 'prepare'" in message, message
    assert "dossier 000.00.01.H29-" in message, message  # the code the rolled-back dossier had
    assert f"time budget of {TINY:g} s" in message, message
    assert _codes(engine) == []
    assert snapshot(engine) == before


def test_looping_script_after_a_step_leaves_the_step_open(limited: Callable[..., Engine]) -> None:
    engine = limited(on_complete=LOOP)
    code = _receive(engine).code
    [step] = engine.open_steps(dossier=code)
    before = snapshot(engine)
    with pytest.raises(ScriptError) as info:
        engine.complete(code, step.id, "tran.thi.mai")
    message = str(info.value)
    assert f"dossier {code}" in message and "element 'tally'" in message, message
    assert "time budget" in message, message
    assert snapshot(engine) == before
    assert [s.id for s in engine.open_steps(dossier=code)] == [step.id]


def test_looping_condition_stops(limited: Callable[..., Engine]) -> None:
    engine = limited(condition="any(False for a in range(10**6) for b in range(10**6))")
    code = _receive(engine).code
    [step] = engine.open_steps(dossier=code)
    before = snapshot(engine)
    with pytest.raises(ScriptError) as info:
        engine.complete(code, step.id, "tran.thi.mai")
    message = str(info.value)
    assert f"dossier {code}" in message and "element 'decide'" in message, message
    assert "time budget" in message, message
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "script",
    [
        # recursion with no loop: a tree of calls, each level doubling
        "def f():\n    try:\n        f()\n    finally:\n        f()\nf()",
        "x = max(range(10**6), key=lambda v: max(range(10**6), key=lambda w: w))",
        "x = [a for a in range(10**6) for b in range(10**6) if False]",
        "try:\n    while True:\n        pass\nexcept Exception:\n    pass\ncaught = True",
    ],
    ids=["recursion", "lambda", "comprehension", "caught"],
)
def test_every_way_to_repeat_is_timed(script: str) -> None:
    with pytest.raises(ScriptError, match="time budget"):
        RestrictedEnvironment(time_budget=TINY).execute(script, {})


def test_a_normal_script_and_condition_still_work(limited: Callable[..., Engine]) -> None:
    engine = limited(
        time_budget=1.0,
        on_receive="total = 0\nfor d in documents:\n    total += 1\nlabel = f'{total:>3}'",
        on_complete="reviewed = sum([[1], [2]], []) == [1, 2] and 2 ** 10 == 1 << 10",
    )
    code = _receive(engine).code
    [step] = engine.open_steps(dossier=code)
    engine.complete(code, step.id, "tran.thi.mai")
    [approve] = engine.open_steps(dossier=code)
    assert approve.spec_id == "approve"  # the condition saw reviewed == True


def test_the_previous_trace_function_is_kept(
    limited: Callable[..., Engine], tracer: Callable[..., Any]
) -> None:
    engine = limited(on_complete=LOOP)
    code = _receive(engine).code
    assert sys.gettrace() is tracer
    [step] = engine.open_steps(dossier=code)
    with pytest.raises(ScriptError):
        engine.complete(code, step.id, "tran.thi.mai")
    assert sys.gettrace() is tracer


def test_straight_line_code_is_not_timed() -> None:
    """No loop and no function: the script has no clock check, so even a budget spent before it
    starts cannot stop it."""
    env = RestrictedEnvironment(time_budget=1e-9)
    ctx: dict[str, Any] = {"fee": 2}
    env.execute("fee = fee * 3 + 1", ctx)
    assert ctx == {"fee": 7}
    assert env.evaluate("fee > 5", ctx) is True


# -- size ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("x = 10**10**8", ["'**'", "bits"]),
        ("x = pow(7, 10**9)", ["'**'", "bits"]),
        ("x = 'x' * 10**10", ["'*'", "items"]),
        ("x = [0] * 10**10", ["'*'", "items"]),
        ("x = 1 << 10**10", ["'<<'", "bits"]),
        ("x = 2\nx **= 10**9", ["'**'", "bits"]),
        ("x = sum(range(10**15))", ["range()", "items"]),
        ("x = f'{1.0:.999999999f}'", ["format width", "items"]),
        ("x = '%*d' % (10**9, 1)", ["'%' formatting", "items"]),
        ("x = 'a'.ljust(10**10)", ["str.ljust()", "items"]),
        ("s = 'a' * 10**5\nx = s.replace('a', s)", ["str.replace()", "items"]),
        ("x = (1).to_bytes(10**10, 'big')", ["int.to_bytes()", "items"]),
        ("x = round(1, -10**9)", ["round()", "bits"]),
    ],
)
def test_huge_values_are_refused_before_they_are_computed(script: str, words: list[str]) -> None:
    # A generous time budget: what stops these must be the size guard, at once.
    env = RestrictedEnvironment(time_budget=60)
    start = time.monotonic()
    with pytest.raises(ScriptError, match="size budget") as info:
        env.execute(script, {})
    assert time.monotonic() - start < 30  # computing any of them would take far longer
    for w in words:
        assert w in str(info.value), str(info.value)


def test_huge_value_in_a_script_names_dossier_element_and_budget(
    limited: Callable[..., Engine],
) -> None:
    engine = limited(on_complete="x = 'x' * 10**10")
    code = _receive(engine).code
    [step] = engine.open_steps(dossier=code)
    before = snapshot(engine)
    with pytest.raises(ScriptError) as info:
        engine.complete(code, step.id, "tran.thi.mai")
    message = str(info.value)
    assert f"dossier {code}" in message and "element 'tally'" in message, message
    assert "size budget of 1,000,000 items" in message, message
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "script",
    ["x = []\nfor i in range(60):\n    x = [x, x]", "x = [0]\nx.append(x)"],
    ids=["shared", "cycle"],
)
def test_data_the_store_could_not_write_is_refused(script: str) -> None:
    """Small in memory, but astronomical (or endless) once written out as the store does."""
    with pytest.raises(ScriptError, match="task data after the script"):
        RestrictedEnvironment().execute(script, {})


def test_size_budgets_are_configurable() -> None:
    small = RestrictedEnvironment(max_items=50, max_int_bits=8)
    with pytest.raises(ScriptError, match="size budget of 50 items"):
        small.execute("x = 'ab' * 26", {})
    with pytest.raises(ScriptError, match="size budget of 8 bits"):
        small.execute("x = 3 ** 6", {})
    ctx: dict[str, Any] = {}
    small.execute("x = 'ab' * 4\ny = 3 ** 5", ctx)
    assert ctx == {"x": "abababab", "y": 243}


def test_budgets_must_be_positive() -> None:
    with pytest.raises(ScriptError, match="time_budget=0"):
        make_script_engine(time_budget=0)


def test_full_python_has_no_budget() -> None:
    """The deployment's explicit choice of trusted scripts: no guard rewrites its operators."""
    engine = make_script_engine("python", time_budget=TINY)
    ctx: dict[str, Any] = {}
    engine.environment.execute("x = (7 ** 20000).bit_length()", ctx)
    assert ctx["x"] > 50_000


# -- conditions at load ----------------------------------------------------------------------------
@pytest.mark.parametrize("scripts", ["restricted", "python"])
def test_a_condition_that_is_an_assignment_is_refused_at_load(
    make_engine: Callable[..., Engine], tmp_path: Path, scripts: str
) -> None:
    engine = make_engine(tmp_path / f"{scripts}.db", scripts=scripts)
    data = _bpmn(condition="ok = True", condition_name="Đủ điều kiện")
    with pytest.raises(ProcedureError) as info:
        engine.load_procedure(data, name="limits.bpmn")
    message = str(info.value)
    for word in ('limits.bpmn: line ', 'flow "Đủ điều kiện" (f_yes)', "'ok = True'",
                 "write the Python expression ok == True", "[condition-assign]"):
        assert word in message, message
    assert engine.procedures() == []


def test_check_script_tells_expressions_from_statements() -> None:
    check_script("ok = True")
    check_script("fee > 0 and ok", expression=True)
    with pytest.raises(ScriptError, match="a condition must be an expression"):
        check_script("ok = True", expression=True)
    with pytest.raises(ScriptError, match="syntax error"):
        check_script("fee >", expression=True)
