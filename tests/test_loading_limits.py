"""Big and looping processes load, and the share check still finds the heaviest path.

The files are generated here with the property conventions of ``processes/*.bpmn`` (camunda
extension properties, one lane whose ``lienthong:unit-role`` the demo organisation holds). Load
times are measured by hand, not asserted: a slow check shows as a slow test.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from pathlib import Path

import pytest

from lienthong import VN_TZ, FixedClock, ProcedureError, load_procedure
from lienthong.testing import make_test_engine, run_dossier

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="generated_definitions" \
targetNamespace="https://lienthong.example/bpmn/generated">
  <bpmn:process id="generated" isExecutable="true">
    <bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="lienthong:procedure-code" value="9.000001"/>
        <camunda:property name="lienthong:procedure-name" value="Generated"/>
        <camunda:property name="lienthong:deadline" value="{deadline}"/>
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="generated_lanes">
      <bpmn:lane id="one-stop-desk" name="Bộ phận tiếp nhận và trả kết quả">
        <bpmn:extensionElements>
          <camunda:properties>
            <camunda:property name="lienthong:unit-role" value="one-stop-desk"/>
          </camunda:properties>
        </bpmn:extensionElements>
{refs}
      </bpmn:lane>
    </bpmn:laneSet>
{body}
  </bpmn:process>
</bpmn:definitions>
"""


class Process:
    """A process being written: flow nodes and sequence flows, in document order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.nodes: list[str] = []
        self.flows: list[str] = []

    def node(self, tag: str, id: str, attrs: str = "", inner: str = "") -> str:
        self.ids.append(id)
        self.nodes.append(f'    <bpmn:{tag} id="{id}"{attrs}>{inner}</bpmn:{tag}>')
        return id

    def task(self, id: str, share: str) -> str:
        return self.node(
            "userTask",
            id,
            f' name="{id}"',
            "<bpmn:extensionElements><camunda:properties>"
            f'<camunda:property name="lienthong:share" value="{share}"/>'
            "</camunda:properties></bpmn:extensionElements>",
        )

    def flow(self, source: str, target: str, condition: str | None = None) -> str:
        fid = f"flow_{len(self.flows)}"
        cond = (
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
        )
        self.flows.append(
            f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f"{cond}</bpmn:sequenceFlow>"
        )
        return fid

    def bpmn(self, deadline: str) -> bytes:
        refs = "\n".join(f"        <bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in self.ids)
        body = "\n".join(self.nodes + self.flows)
        return HEAD.format(deadline=deadline, refs=refs, body=body).encode()


def chain(n: int, share: str, deadline: str) -> bytes:
    """``n`` user tasks one after another."""
    p = Process()
    prev = p.node("startEvent", "submitted")
    for i in range(n):
        p.flow(prev, prev := p.task(f"t{i}", share))
    p.flow(prev, p.node("endEvent", "done"))
    return p.bpmn(deadline)


def diamonds(n: int, deadline: str) -> tuple[bytes, list[str]]:
    """``n`` exclusive choices in a row between a 2-hour and a 1-hour task, the longer one first
    in even diamonds and second in odd ones, so that flow order alone does not find the heaviest
    path. Returns the file and that path."""
    p = Process()
    prev = p.node("startEvent", "submitted")
    heaviest = [prev]
    for i in range(n):
        split = f"split_{i}"
        # The split's default is its second flow, written two flows after the one into it.
        p.flow(prev, p.node("exclusiveGateway", split, f' default="flow_{len(p.flows) + 2}"'))
        first, second = (f"long_{i}", f"short_{i}") if i % 2 == 0 else (f"short_{i}", f"long_{i}")
        join = f"join_{i}"
        p.flow(split, p.task(first, "2h" if first.startswith("long") else "1h"), "choice == 1")
        p.flow(split, p.task(second, "2h" if second.startswith("long") else "1h"))
        p.node("exclusiveGateway", join)
        p.flow(first, join)
        p.flow(second, join)
        heaviest += [split, f"long_{i}", join]
        prev = join
    p.flow(prev, p.node("endEvent", "done"))
    return p.bpmn(deadline), [*heaviest, "done"]


def test_forty_diamonds_load_and_the_heaviest_path_is_named() -> None:
    # 2**40 paths: the check must not walk them one by one.
    data, heaviest = diamonds(40, "10d")  # 40 x 2 h = 80 h = 10 working days
    assert len(load_procedure(data, name="diamonds.bpmn").steps) == 80

    data, heaviest = diamonds(40, "9d7h59m")
    with pytest.raises(ProcedureError) as info:
        load_procedure(data, name="diamonds.bpmn")
    long_steps = " + ".join(f"long_{i} 2h" for i in range(40))
    assert str(info.value) == (
        "diamonds.bpmn: line 3: process generated: the shares along the path "
        f"{' -> '.join(heaviest)} add up to 10d ({long_steps}), more than the legal deadline "
        "9d7h59m (fix: shorten the shares (lienthong:share) of these steps, or check "
        "lienthong:deadline) [share-over-deadline]"
    )
    [problem] = info.value.problems
    assert (problem.rule, problem.element, problem.line) == ("share-over-deadline", "generated", 3)


def test_a_chain_of_300_tasks_loads_and_its_shares_are_summed() -> None:
    assert len(load_procedure(chain(300, "1h", "37d4h"), name="chain.bpmn").steps) == 300

    with pytest.raises(ProcedureError) as info:
        load_procedure(chain(300, "1h", "37d3h"), name="chain.bpmn")
    message = str(info.value)
    path = " -> ".join(["submitted", *(f"t{i}" for i in range(300)), "done"])
    assert f"the shares along the path {path} add up to 37d4h (" in message
    assert "more than the legal deadline 37d3h (fix: " in message


def test_a_chain_of_2000_tasks_loads_and_its_shares_are_summed() -> None:
    # SpiffWorkflow's parser recurses once or twice per element along the flow: lienthong parses
    # in a thread with a deep stack, so a long chain loads instead of running out of recursion.
    proc = load_procedure(chain(2000, "1m", "5d"), name="long-chain.bpmn")
    assert len([s for s in proc.steps.values() if s.is_step]) == 2000
    with pytest.raises(ProcedureError, match=r"more than the legal deadline 4d"):
        load_procedure(chain(2000, "1m", "4d"), name="long-chain.bpmn")


def test_a_chain_too_long_even_for_the_deep_parse_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The limit the parse gets, lowered to the interpreter's default: 600 tasks are too many.
    from lienthong.bpmn import spiff

    monkeypatch.setattr(spiff, "_PARSE_RECURSION_LIMIT", 1000)
    with pytest.raises(ProcedureError) as info:
        load_procedure(chain(600, "0m", "5d"), name="very-long-chain.bpmn")
    message = str(info.value)
    assert message.startswith("very-long-chain.bpmn")
    assert "SpiffWorkflow's parser" in message and "recursion limit" in message


def test_a_dossier_runs_through_a_chain_of_300_tasks() -> None:
    clock = FixedClock(datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ))
    engine = make_test_engine(clock=clock)
    proc = engine.load_procedure(chain(300, "1m", "1d"), name="chain.bpmn")
    code = run_dossier(engine, clock, proc.code, minutes_per_step=1)
    assert engine.dossier(code).is_closed
    assert len(engine.steps(code)) == 300


def loop(deadline: str) -> bytes:
    """A dossier found incomplete goes back to reception, through one of two supplements."""
    p = Process()
    p.node("startEvent", "submitted")
    p.task("reception", "1d")
    p.task("review", "2d")
    p.node("exclusiveGateway", "complete", ' default="flow_4"')
    p.task("decide", "1d")
    p.node("endEvent", "done")
    p.node("exclusiveGateway", "which", ' default="flow_6"')
    p.task("supplement_a", "3d")
    p.task("supplement_b", "1d")
    p.flow("submitted", "reception")
    p.flow("reception", "review")
    p.flow("review", "complete")
    p.flow("complete", "which", "incomplete")
    p.flow("complete", "decide")
    p.flow("which", "supplement_a", "kind == 'a'")
    p.flow("which", "supplement_b")
    p.flow("supplement_a", "reception")
    p.flow("supplement_b", "reception")
    p.flow("decide", "done")
    return p.bpmn(deadline)


def test_a_loop_counts_once_and_a_path_stops_where_it_would_go_back() -> None:
    # As before the check was linear: a path ends at a flow back to a node it has passed, so the
    # way through supplement_a (1d + 2d + 3d) is the heaviest, not the way to the end (4d), and
    # no step counts twice.
    assert len(load_procedure(loop("6d"), name="loop.bpmn").steps) == 5
    with pytest.raises(ProcedureError) as info:
        load_procedure(loop("5d"), name="loop.bpmn")
    assert str(info.value) == (
        "loop.bpmn: line 3: process generated: the shares along the path "
        "submitted -> reception -> review -> complete -> which -> supplement_a add up to 6d "
        "(reception 1d + review 2d + supplement_a 3d), more than the legal deadline 5d "
        "(fix: shorten the shares (lienthong:share) of these steps, or check lienthong:deadline) "
        "[share-over-deadline]"
    )


def test_a_file_over_max_bytes_is_refused_with_its_size_and_the_limit(tmp_path: Path) -> None:
    data = chain(3, "1h", "1d")
    size = len(data)
    assert load_procedure(data, name="small.bpmn", max_bytes=size).code == "9.000001"
    with pytest.raises(ProcedureError) as info:
        load_procedure(data, name="small.bpmn", max_bytes=size - 1)
    assert str(info.value) == (
        f"small.bpmn: the file is {size:,} bytes, more than the limit of {size - 1:,} bytes "
        "for a BPMN file"
    )

    path = tmp_path / "small.bpmn"
    path.write_bytes(data)
    with pytest.raises(ProcedureError) as info:
        load_procedure(path, max_bytes=100)
    assert str(info.value).startswith(f"{path}: the file is {size:,} bytes")


def test_the_default_limit_is_five_mebibytes() -> None:
    limit = 5 * 1024 * 1024
    assert inspect.signature(load_procedure).parameters["max_bytes"].default == limit
    # Well-formed and valid but for its size: padding in a comment.
    data = chain(3, "1h", "1d").replace(b"<bpmn:definitions", b"<!--" + b" " * limit + b"-->\n"
                                        b"<bpmn:definitions", 1)
    with pytest.raises(ProcedureError) as info:
        load_procedure(data, name="padded.bpmn")
    assert f"more than the limit of {limit:,} bytes" in str(info.value)
