"""``lienthong render``'s picture: one shape per BPMNDI shape, one route per BPMNDI edge, the
shares and the longest path, read back from the SVG with lxml."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from lienthong.bpmn import load_procedure
from lienthong.bpmn.diagram import read_diagram
from lienthong.bpmn.render import PATH_BLUE, render_bpmn, render_svg
from lienthong.legaltime.durations import format_duration

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
HERE = Path(__file__).parent
REWORK = HERE / "rework.bpmn"
CAMUNDA = ROOT / "tests" / "lint" / "corpus" / "camunda-modeler-5.bpmn"
DRAWN = [*PROCESSES, REWORK, CAMUNDA, ROOT / "tests" / "lint" / "corpus" / "camunda-8.bpmn"]
SVG = {"s": "http://www.w3.org/2000/svg"}
DI = {
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}


def svg_of(path: Path) -> etree._Element:
    return etree.fromstring(render_bpmn(path).encode("utf-8"))


def groups(svg: etree._Element, kind: str) -> list[etree._Element]:
    return svg.xpath(f"//s:g[@data-element-id][contains(concat(' ', @class, ' '), ' {kind} ')]",
                     namespaces=SVG)  # fmt: skip


def di_elements(path: Path, tag: str) -> list[etree._Element]:
    return etree.parse(str(path)).xpath(f"//bpmndi:BPMNDiagram[1]//bpmndi:{tag}", namespaces=DI)


def text_of(g: etree._Element, css: str | None = None) -> str:
    """The words of a group's text elements (of the one after a ``css`` rect, if given)."""
    if css is not None:
        rect = g.xpath(f".//s:rect[@class='{css}']", namespaces=SVG)
        if not rect:
            return ""
        g = rect[0].getnext()
    texts = g.iter(f"{{{SVG['s']}}}text")
    return " ".join(w for t in texts for w in " ".join(t.itertext()).split())


@pytest.mark.parametrize("path", DRAWN, ids=lambda p: p.name)
def test_one_shape_per_bpmndi_shape_and_one_route_per_edge(path: Path) -> None:
    svg = svg_of(path)
    shapes = di_elements(path, "BPMNShape")
    drawn = groups(svg, "shape")
    assert sorted(g.get("data-di-id") for g in drawn) == sorted(s.get("id") for s in shapes)
    assert {g.get("data-di-id"): g.get("data-element-id") for g in drawn} == {
        s.get("id"): s.get("bpmnElement") for s in shapes
    }
    edges = di_elements(path, "BPMNEdge")
    routes = {g.get("data-di-id"): g for g in groups(svg, "edge")}
    assert sorted(routes) == sorted(e.get("id") for e in edges)
    for e in edges:
        line = routes[e.get("id")].find("s:polyline", namespaces=SVG)
        points = [tuple(float(v) for v in p.split(",")) for p in line.get("points").split()]
        waypoints = [(float(w.get("x")), float(w.get("y")))
                     for w in e.findall("di:waypoint", namespaces=DI)]  # fmt: skip
        assert points == waypoints
        assert line.get("marker-end", "").startswith("url(#arrow-")


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.name)
def test_every_step_shows_its_share_and_its_name_whole(path: Path) -> None:
    proc = load_procedure(path)
    shapes = {g.get("data-element-id"): g for g in groups(svg_of(path), "shape")}
    for sid, step in proc.steps.items():
        g = shapes[sid]
        assert step.kind in g.get("class") or g.get("class").endswith("Task")
        if step.is_step:
            assert text_of(g, "pill") == format_duration(step.share_minutes)
        pill = g.xpath(".//s:rect[@class='pill']", namespaces=SVG)
        [name_text] = g.xpath("./s:text[@class='name']", namespaces=SVG)
        words = " ".join(" ".join(name_text.itertext()).split())
        assert words.replace("- ", "-").replace("/ ", "/") == " ".join(step.name.split())
        if pill:  # the name stays above the pill
            last = name_text.findall("s:tspan", namespaces=SVG)[-1]
            assert float(last.get("y")) < float(pill[0].get("y"))


def _all_paths(graph: dict[str, list[str]], node: str, seen: tuple[str, ...]) -> list[list[str]]:
    nxt = [n for n in graph.get(node, []) if n not in seen]
    if not nxt:
        return [[node]]
    return [[node, *rest] for n in nxt for rest in _all_paths(graph, n, (*seen, n))]


@pytest.mark.parametrize("path", [*PROCESSES, REWORK], ids=lambda p: p.name)
def test_the_caption_gives_the_heaviest_path_against_the_deadline(path: Path) -> None:
    proc = load_procedure(path)
    graph: dict[str, list[str]] = {}
    root = etree.parse(str(path))
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    for f in root.xpath("//bpmn:sequenceFlow", namespaces=ns):
        graph.setdefault(f.get("sourceRef"), []).append(f.get("targetRef"))
    [start] = root.xpath("//bpmn:startEvent/@id", namespaces=ns)
    # Every path, walked out in full (the files are small): the heaviest is the one shown.
    best = max(
        sum(proc.steps[n].share_minutes for n in p if n in proc.steps)
        for p in _all_paths(graph, start, (start,))
    )
    svg = svg_of(path)
    caption = text_of(svg.xpath("//s:g[@class='caption']", namespaces=SVG)[0])
    days = f"{round(best / 480, 2):g} of {round(proc.deadline_minutes / 480, 2):g} working day"
    assert f"longest path (đường dài nhất): {days}" in caption
    assert proc.name in caption and proc.code in caption
    # The longest path's flows are the blue ones, and they run from the start to an end.
    blue = groups(svg, "longest")
    assert blue and all(g.find("s:polyline", namespaces=SVG).get("stroke") == PATH_BLUE
                        for g in blue)  # fmt: skip
    diagram = read_diagram(path)
    flows = {e.id: (e.source, e.target) for e in diagram.edges}
    ends = [flows[g.get("data-element-id")] for g in blue]
    assert {a for a, _ in ends} - {b for _, b in ends} == {start}


def test_a_path_over_the_deadline_is_said_in_red(tmp_path: Path) -> None:
    text = REWORK.read_text(encoding="utf-8").replace(
        'name="lienthong:share" value="2d"', 'name="lienthong:share" value="3d"'
    )
    svg = etree.fromstring(render_bpmn(text.encode("utf-8"), name="over.bpmn").encode("utf-8"))
    warn = svg.xpath("//s:g[@class='caption']/s:text[@fill='#b3261e']", namespaces=SVG)
    assert [" ".join(" ".join(t.itertext()).split()) for t in warn] == [
        "longest path (đường dài nhất): 3.5 of 3 working days: 4h over the deadline"
    ]


def test_markers_show_the_task_and_gateway_types() -> None:
    khai_sinh = next(p for p in PROCESSES if p.name == "khai-sinh-thuong-tru-bhyt.bpmn")
    svg = svg_of(khai_sinh)  # user, script and service tasks; parallel gateways
    shapes = {g.get("data-element-id"): g for g in groups(svg, "shape")}
    assert "userTask" in shapes["register_birth"].get("class")
    assert "serviceTask" in shapes["issue_card"].get("class")
    assert "scriptTask" in shapes["forward"].get("class")
    # A parallel gateway has its + (two strokes in one path), an exclusive one its ×.
    plus = shapes["split"].xpath("./s:path", namespaces=SVG)
    assert len(plus) == 1 and plus[0].get("d").count("M") == 2
    cross = groups(svg_of(CAMUNDA), "exclusiveGateway")
    assert cross and all(len(g.xpath("./s:path", namespaces=SVG)) == 1 for g in cross)


def test_flow_labels_sit_in_their_bpmndi_label_bounds() -> None:
    svg = svg_of(REWORK)
    diagram = read_diagram(REWORK)
    for e in diagram.edges:
        labels = svg.xpath(f"//s:g[@data-label-for='{e.id}']", namespaces=SVG)
        if not e.name:
            assert labels == []
            continue
        [g] = labels
        assert text_of(g) == e.name
        assert e.label is not None
        [span] = g.xpath(".//s:tspan", namespaces=SVG)
        assert float(span.get("x")) == pytest.approx(e.label.cx)
        assert e.label.y <= float(span.get("y")) <= e.label.bottom + 2


def test_a_default_flow_has_its_slash_and_lint_errors_are_warnings_not_refusals() -> None:
    svg = svg_of(REWORK)
    [rework] = svg.xpath("//s:g[@data-element-id='f_rework']", namespaces=SVG)
    assert len(rework.xpath("./s:line", namespaces=SVG)) == 1  # the default flow's slash
    [approved] = svg.xpath("//s:g[@data-element-id='f_approved']", namespaces=SVG)
    assert approved.xpath("./s:line", namespaces=SVG) == []
    broken = REWORK.read_text(encoding="utf-8").replace('value="2d"', 'value="2 ngày"')
    diagram = read_diagram(broken.encode("utf-8"), name="broken.bpmn")
    assert any("lint finds 1 error" in w for w in diagram.warnings)
    assert render_svg(diagram)  # still drawn


def test_the_picture_is_as_big_as_what_it_draws() -> None:
    svg = svg_of(PROCESSES[0])
    x, y, w, h = (float(v) for v in svg.get("viewBox").split())
    extent = read_diagram(PROCESSES[0]).extent
    assert x < extent.x and y < extent.y
    assert x + w > extent.right and y + h > extent.bottom + 60  # the caption is below
    assert float(svg.get("width")) == w and float(svg.get("height")) == h
