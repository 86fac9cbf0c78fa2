"""The reference BPMN files in processes/ and the demo organisation that works them.

Checks only the files themselves (XSD, BPMNDI, lanes, roles), with SpiffWorkflow and lxml: no
lienthong code is imported, so a broken file is reported here even when the loader is broken too.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
DEMO_ORG = ROOT / "src" / "lienthong" / "data" / "demo-org.toml"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent")
TASKS = ("task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask")
ACTIVITIES = ("businessRuleTask", "callActivity", "subProcess", "boundaryEvent")
GATEWAYS = ("parallelGateway", "exclusiveGateway", "inclusiveGateway", "eventBasedGateway")
FLOW_NODES = EVENTS + TASKS + ACTIVITIES + GATEWAYS


def props(el: etree._Element) -> dict[str, str]:
    """lienthong:* extension properties of an element, from either modeler's form."""
    found = el.xpath(
        "bpmn:extensionElements/camunda:properties/camunda:property"
        " | bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
        namespaces=NS,
    )
    return {p.get("name"): p.get("value") for p in found}


def flow_nodes(process: etree._Element) -> list[etree._Element]:
    return [el for tag in FLOW_NODES for el in process.iterfind(f"bpmn:{tag}", NS)]


def lane_roles(process: etree._Element) -> dict[str, str]:
    """lane id -> unit role (default: the lane id)."""
    return {
        lane.get("id"): props(lane).get("lienthong:unit-role", lane.get("id"))
        for lane in process.iterfind(".//bpmn:lane", NS)
    }


@pytest.fixture(params=PROCESSES, ids=[p.name for p in PROCESSES])
def bpmn(request: pytest.FixtureRequest) -> tuple[Path, etree._ElementTree, etree._Element]:
    path = request.param
    tree = etree.parse(str(path))
    processes = tree.getroot().findall("bpmn:process", NS)
    assert len(processes) == 1, f"{path.name}: expected one process"
    return path, tree, processes[0]


def test_there_are_processes() -> None:
    assert len(PROCESSES) >= 3


def test_valid_against_xsd(bpmn) -> None:
    path, tree, _ = bpmn
    BpmnValidator().validate(tree, str(path))  # raises ValidationException when invalid


def test_spiffworkflow_parses_and_every_task_has_a_lane(bpmn) -> None:
    path, _, process = bpmn
    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(path))
    spec = parser.get_spec(process.get("id"))
    ids = {el.get("id") for el in flow_nodes(process)}
    specs = {name: ts for name, ts in spec.task_specs.items() if name in ids}
    assert set(specs) == ids, f"{path.name}: flow nodes missing from the spec"
    assert all(ts.lane for ts in specs.values()), [n for n, ts in specs.items() if not ts.lane]


def test_every_flow_node_is_in_exactly_one_lane(bpmn) -> None:
    path, _, process = bpmn
    refs = [r.text for r in process.iterfind(".//bpmn:lane/bpmn:flowNodeRef", NS)]
    ids = [el.get("id") for el in flow_nodes(process)]
    assert sorted(refs) == sorted(ids), f"{path.name}: lanes do not hold each flow node once"


def test_diagram_has_a_shape_for_every_node_and_an_edge_for_every_flow(bpmn) -> None:
    path, tree, process = bpmn
    plane = tree.find(".//bpmndi:BPMNPlane", NS)
    collab = tree.find("bpmn:collaboration", NS)
    assert collab is not None and plane.get("bpmnElement") == collab.get("id")
    participants = collab.findall("bpmn:participant", NS)
    assert [p.get("processRef") for p in participants] == [process.get("id")]

    shapes = {s.get("bpmnElement"): s for s in plane.iterfind("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.iterfind("bpmndi:BPMNEdge", NS)}

    def bounds(elem_id: str) -> tuple[float, float, float, float]:
        b = shapes[elem_id].find("dc:Bounds", NS)
        x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
        return x, y, x + w, y + h

    for horizontal in [participants[0].get("id"), *lane_roles(process)]:
        assert shapes[horizontal].get("isHorizontal") == "true", horizontal
    for lane in process.iterfind(".//bpmn:lane", NS):
        lx1, ly1, lx2, ly2 = bounds(lane.get("id"))
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert ref.text in shapes, f"{path.name}: no BPMNShape for {ref.text}"
            x1, y1, x2, y2 = bounds(ref.text)
            assert lx1 <= x1 and x2 <= lx2 and ly1 <= y1 and y2 <= ly2, (
                f"{path.name}: {ref.text} is drawn outside its lane {lane.get('id')}"
            )
    for flow in process.iterfind("bpmn:sequenceFlow", NS):
        edge = edges.get(flow.get("id"))
        assert edge is not None, f"{path.name}: no BPMNEdge for {flow.get('id')}"
        assert len(edge.findall("di:waypoint", NS)) >= 2


def test_required_properties(bpmn) -> None:
    path, _, process = bpmn
    p = props(process)
    for key in ("procedure-code", "procedure-name", "deadline"):
        assert p.get(f"lienthong:{key}"), f"{path.name}: process has no lienthong:{key}"
    for task in process.iterfind("bpmn:serviceTask", NS):
        assert props(task).get("lienthong:operation"), f"{path.name}: {task.get('id')}"
    assert process.findtext("bpmn:documentation", namespaces=NS), f"{path.name}: no documentation"
    for tag in ("userTask", "serviceTask"):
        for task in process.iterfind(f"bpmn:{tag}", NS):
            assert task.findtext("bpmn:documentation", namespaces=NS), (
                f"{path.name}: {task.get('id')} has no documentation"
            )


def test_demo_org_covers_every_lane_role() -> None:
    org = tomllib.loads(DEMO_ORG.read_text(encoding="utf-8"))
    held: dict[str, list[str]] = {}
    for unit in org["unit"]:
        for role in unit.get("roles", []):
            held.setdefault(role, []).append(unit["code"])
    used = set()
    for path in PROCESSES:
        for process in etree.parse(str(path)).getroot().iterfind("bpmn:process", NS):
            used |= set(lane_roles(process).values())
    assert used, "no lane roles found"
    missing = sorted(used - set(held))
    assert not missing, f"no unit in demo-org.toml holds {missing}"
    assert all(len(codes) == 1 for codes in held.values()), held

    officers = {o["id"]: o["unit"] for o in org["officer"]}
    for unit in org["unit"]:
        for who in [unit["head"], *unit.get("deputies", [])]:
            assert officers.get(who) == unit["code"], f"{unit['code']}: {who} is not its officer"
