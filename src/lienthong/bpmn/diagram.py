"""A BPMN file's diagram (its BPMNDI) as plain records, with lienthong's reading of the process.

:func:`read_diagram` reads the shapes and edges of the file's first diagram, as bpmn.io and
Camunda Modeler show it (the first ``bpmndi:BPMNDiagram``), and beside them what lienthong reads
from the process: each step's share of the deadline, the deadline, and the path whose shares add
up to the most (:func:`lienthong.bpmn.shares.heaviest_path`, the rule ``share-over-deadline``
checks). :mod:`lienthong.bpmn.render` draws it.

A file with problems ``lienthong lint`` reports is still read, so a designer can see what they
drew: the picture shows the shares that could be read, and :attr:`Diagram.warnings` says how
many errors the file has. What cannot be drawn is refused with a :class:`ProcedureError` that
names the file and the element: a file that is not BPMN, one without a diagram (lienthong does
not lay a process out: a modeler does, and writes it into the file), a shape without bounds or
with a coordinate that is not a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from lxml import etree

from lienthong.bpmn.checks import check_document
from lienthong.bpmn.problems import label
from lienthong.bpmn.procedures import MAX_BPMN_BYTES, read_source
from lienthong.bpmn.properties import NS
from lienthong.bpmn.shares import heaviest_path
from lienthong.bpmn.specs import StepSpec
from lienthong.errors import ProcedureError

__all__ = ["Box", "Diagram", "Edge", "Shape", "read_diagram"]

_DC = "http://www.omg.org/spec/DD/20100524/DC"
_DI = "http://www.omg.org/spec/DD/20100524/DI"
#: bpmn-js's colour attributes (bpmn.io's colour picker writes both).
_COLOURS = (
    ("{http://bpmn.io/schema/bpmn/biocolor/1.0}fill", "fill"),
    ("{http://bpmn.io/schema/bpmn/biocolor/1.0}stroke", "stroke"),
    ("{http://www.omg.org/spec/BPMN/non-normative/color/1.0}background-color", "fill"),
    ("{http://www.omg.org/spec/BPMN/non-normative/color/1.0}border-color", "stroke"),
)
_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,20}|rgba?\([0-9.,%\s]{1,40}\))$")
#: Coordinates further out than this are a broken file, not a diagram (a picture a million
#: pixels wide helps nobody, and a viewer may refuse it).
MAX_COORDINATE = 1_000_000

TASKS = frozenset(
    ("task", "userTask", "serviceTask", "scriptTask", "manualTask", "sendTask", "receiveTask",
     "businessRuleTask", "callActivity")
)  # fmt: skip
CONTAINERS = frozenset(("subProcess", "transaction", "adHocSubProcess"))
EVENTS = frozenset(
    ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
     "boundaryEvent")
)  # fmt: skip
GATEWAYS = frozenset(
    ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
     "complexGateway")
)  # fmt: skip
_KINDS = {
    "participant": "pool",
    "lane": "lane",
    "dataObjectReference": "data-object",
    "dataObject": "data-object",
    "dataInput": "data-object",
    "dataOutput": "data-object",
    "dataStoreReference": "data-store",
    "textAnnotation": "annotation",
    "group": "group",
}


@attrs.frozen
class Box:
    """A rectangle in diagram coordinates (pixels, y down)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@attrs.frozen
class Shape:
    """One ``bpmndi:BPMNShape``: the element it draws, where, and what its marker shows.

    ``kind`` is how it is drawn: ``pool``, ``lane``, ``task``, ``container`` (an expanded
    subprocess), ``event``, ``gateway``, ``data-object``, ``data-store``, ``annotation``,
    ``group``, or ``other`` (an element lienthong does not know how to draw, or none: a shape
    whose ``bpmnElement`` names no element of the file)."""

    id: str  # the BPMN element's id (bpmnElement)
    di_id: str
    tag: str  # the element's BPMN type, "" when it names no element
    kind: str
    name: str
    bounds: Box
    label: Box | None = None
    horizontal: bool = True
    expanded: bool = False
    event: str | None = None  # timer, message, ... ("multiple" for several)
    throwing: bool = False
    interrupting: bool = True
    loop: str | None = None  # loop, parallel, sequential
    fill: str | None = None
    stroke: str | None = None


@attrs.frozen
class Edge:
    """One ``bpmndi:BPMNEdge``: a sequence flow, message flow or association, and its route."""

    id: str
    di_id: str
    tag: str
    name: str
    points: tuple[tuple[float, float], ...]
    source: str = ""
    target: str = ""
    label: Box | None = None
    default: bool = False
    #: a condition on a flow out of a task (drawn with a diamond where it leaves)
    conditional: bool = False
    condition: str = ""
    stroke: str | None = None


@attrs.frozen
class Diagram:
    """What :mod:`lienthong.bpmn.render` draws: the shapes and edges of a file's first diagram,
    in document order, and lienthong's reading of its process."""

    file: str
    title: str
    code: str
    shapes: tuple[Shape, ...]
    edges: tuple[Edge, ...]
    #: lienthong's steps (user, service and script tasks), by BPMN id, with their shares
    steps: Mapping[str, StepSpec] = attrs.field(factory=dict)
    deadline_minutes: int = 0
    same_day: bool = False
    #: the heaviest path's total share (working minutes) and its flow nodes, start to end
    longest_minutes: int = -1
    longest_path: tuple[str, ...] = ()
    #: flow node or flow id -> its name, for captions
    names: Mapping[str, str] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def extent(self) -> Box:
        """The smallest box around every shape, label and waypoint."""
        xs: list[float] = []
        ys: list[float] = []
        for s in self.shapes:
            for b in (s.bounds, s.label):
                if b is not None:
                    xs += [b.x, b.right]
                    ys += [b.y, b.bottom]
        for e in self.edges:
            xs += [p[0] for p in e.points]
            ys += [p[1] for p in e.points]
            if e.label is not None:
                xs += [e.label.x, e.label.right]
                ys += [e.label.y, e.label.bottom]
        if not xs:
            return Box(0, 0, 0, 0)
        return Box(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def read_diagram(
    source: str | Path | bytes, *, name: str | None = None, max_bytes: int = MAX_BPMN_BYTES
) -> Diagram:
    """The diagram of a BPMN file (a path, or its bytes with ``name`` for messages)."""
    data, file = read_source(source, name=name, max_bytes=max_bytes)
    try:
        root = etree.fromstring(
            data, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        )
    except etree.XMLSyntaxError as e:
        raise ProcedureError(f"{file}: line {e.lineno}: not well-formed XML: {e.msg}") from None
    if root.tag != f"{{{NS['bpmn']}}}definitions":
        raise ProcedureError(
            f"{file}: not a BPMN 2.0 file: its root element is {etree.QName(root).localname}, "
            "not bpmn:definitions"
        )
    diagrams = root.xpath("./bpmndi:BPMNDiagram", namespaces=NS)
    if not diagrams:
        raise ProcedureError(
            f"{file}: the file has no diagram (BPMNDI) to draw: open it in bpmn.io or Camunda "
            "Modeler, which lay a process out, and save it again"
        )
    plane = diagrams[0].find(f"{{{NS['bpmndi']}}}BPMNPlane")
    items = [] if plane is None else list(plane.iterchildren(etree.Element))
    elements = {el.get("id"): el for el in root.iter(etree.Element) if el.get("id")}
    shapes = tuple(
        _shape(file, el, elements) for el in items if el.tag == f"{{{NS['bpmndi']}}}BPMNShape"
    )
    edges = tuple(
        _edge(file, el, elements) for el in items if el.tag == f"{{{NS['bpmndi']}}}BPMNEdge"
    )
    if not shapes:
        raise ProcedureError(
            f"{file}: line {diagrams[0].sourceline}: the diagram "
            f"{diagrams[0].get('id') or ''} has no shapes to draw".replace("  ", " ")
        )
    return _with_process(data, file, root, shapes, edges, elements, len(diagrams))


def _with_process(
    data: bytes,
    file: str,
    root: Any,
    shapes: tuple[Shape, ...],
    edges: tuple[Edge, ...],
    elements: dict[str, Any],
    n_diagrams: int,
) -> Diagram:
    checked = check_document(data, file)
    warnings = []
    unknown = [s.id for s in shapes if not s.tag]
    if unknown:
        warnings.append(
            f"{len(unknown)} shape(s) name no element of the file and are drawn as plain boxes: "
            + ", ".join(unknown[:5])
            + (" ..." if len(unknown) > 5 else "")
        )
    drawn = {s.id for s in shapes} | {e.id for e in edges}
    undrawn = [
        p.element for p in checked.problems if p.rule == "no-bpmndi" and p.element in elements
    ]
    undrawn = [i for i in undrawn if i not in drawn and elements[i] is not root]
    if undrawn:
        warnings.append(
            f"{len(undrawn)} element(s) have no shape in the diagram and are not drawn: "
            + ", ".join(undrawn[:5])
            + (" ..." if len(undrawn) > 5 else "")
        )
    if n_diagrams > 1:
        warnings.append(f"the file has {n_diagrams} diagrams; the first one is drawn")
    errors = len(checked.errors)
    if errors:
        warnings.append(
            f"lienthong lint finds {errors} error(s) in the file: the engine would refuse it "
            f"(run lienthong lint {file})"
        )
    proc = checked.process
    title, code, total = "", "", -1
    path: tuple[str, ...] = ()
    if proc is not None:
        title = label(checked.props.get("procedure-name") or proc.get("name") or "")
        code = checked.props.get("procedure-code", "")
        graph: dict[str, list[str]] = {}
        for f in proc.xpath("./bpmn:sequenceFlow", namespaces=NS):
            graph.setdefault(f.get("sourceRef"), []).append(f.get("targetRef"))
        starts = [e.get("id") for e in proc.xpath("./bpmn:startEvent", namespaces=NS)]
        shares = {sid: s.share_minutes for sid, s in checked.steps.items()}
        total, found = heaviest_path(graph, starts, shares)
        path = tuple(found)
    else:
        pools = [s for s in shapes if s.kind == "pool" and s.name]
        title = pools[0].name if pools else ""
    names = {
        i: label(el.get("name") or "")
        for i, el in elements.items()
        if etree.QName(el).namespace == NS["bpmn"]
    }
    return Diagram(
        file=file,
        title=title,
        code=code,
        shapes=shapes,
        edges=edges,
        steps=dict(checked.steps),
        deadline_minutes=checked.deadline,
        same_day=checked.same_day,
        longest_minutes=total,
        longest_path=path,
        names=names,
        warnings=tuple(warnings),
    )


def _number(file: str, el: Any, attr: str) -> float:
    text = el.get(attr)
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
        owner = el.getparent()
        who = owner.get("id") or owner.get("bpmnElement") or etree.QName(owner).localname
        what = "missing" if text is None else f"{text!r}, not a number within ±{MAX_COORDINATE:,}"
        raise ProcedureError(
            f"{file}: line {el.sourceline}: {who}: {etree.QName(el).localname} {attr} is {what}"
        )
    return value


def _bounds(file: str, el: Any) -> Box | None:
    b = el.find(f"{{{_DC}}}Bounds")
    if b is None:
        return None
    w, h = _number(file, b, "width"), _number(file, b, "height")
    if w < 0 or h < 0:
        raise ProcedureError(
            f"{file}: line {b.sourceline}: {el.get('id') or el.get('bpmnElement')}: "
            f"dc:Bounds has a negative size ({w:g} × {h:g})"
        )
    return Box(_number(file, b, "x"), _number(file, b, "y"), w, h)


def _label_bounds(file: str, el: Any) -> Box | None:
    lab = el.find(f"{{{NS['bpmndi']}}}BPMNLabel")
    return _bounds(file, lab) if lab is not None else None


def _colours(el: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr, key in _COLOURS:
        value = (el.get(attr) or "").strip()
        if value and _COLOUR.match(value) and key not in out:
            out[key] = value
    return out


def _event_kind(el: Any) -> str | None:
    defs = [
        etree.QName(c).localname[: -len("EventDefinition")]
        for c in el.iterchildren(etree.Element)
        if etree.QName(c).localname.endswith("EventDefinition")
    ]
    if not defs:
        return None
    return defs[0] if len(defs) == 1 else "multiple"


def _loop(el: Any) -> str | None:
    for c in el.iterchildren(etree.Element):
        local = etree.QName(c).localname
        if local == "standardLoopCharacteristics":
            return "loop"
        if local == "multiInstanceLoopCharacteristics":
            return "sequential" if c.get("isSequential") == "true" else "parallel"
    return None


def _shape(file: str, di: Any, elements: dict[str, Any]) -> Shape:
    ref = di.get("bpmnElement") or ""
    el = elements.get(ref)
    tag = etree.QName(el).localname if el is not None else ""
    bounds = _bounds(file, di)
    if bounds is None:
        raise ProcedureError(
            f"{file}: line {di.sourceline}: shape {di.get('id') or ref} has no dc:Bounds"
        )
    if tag in TASKS:
        kind = "task"
    elif tag in CONTAINERS:
        kind = "container" if di.get("isExpanded") == "true" else "task"
    elif tag in EVENTS:
        kind = "event"
    elif tag in GATEWAYS:
        kind = "gateway"
    else:
        kind = _KINDS.get(tag, "other")
    name = ""
    if el is not None:
        name = el.get("name") or ""
        if tag == "textAnnotation":
            text = el.find(f"{{{NS['bpmn']}}}text")
            name = "".join(text.itertext()) if text is not None else ""
        elif tag == "group":
            value = elements.get(el.get("categoryValueRef") or "")
            name = (value.get("value") or "") if value is not None else ""
    colours = _colours(di)
    return Shape(
        id=ref,
        di_id=di.get("id") or "",
        tag=tag,
        kind=kind,
        name=name.strip() if tag == "textAnnotation" else label(name),
        bounds=bounds,
        label=_label_bounds(file, di),
        # bpmn-js draws a pool or lane without the attribute horizontally
        horizontal=di.get("isHorizontal", "true") != "false",
        expanded=di.get("isExpanded") == "true",
        event=_event_kind(el) if kind == "event" else None,
        throwing=tag in ("endEvent", "intermediateThrowEvent"),
        interrupting=el is None
        or (el.get("cancelActivity", "true") != "false" and el.get("isInterrupting") != "false"),
        loop=_loop(el) if el is not None and kind in ("task", "container") else None,
        fill=colours.get("fill"),
        stroke=colours.get("stroke"),
    )


def _edge(file: str, di: Any, elements: dict[str, Any]) -> Edge:
    ref = di.get("bpmnElement") or ""
    el = elements.get(ref)
    tag = etree.QName(el).localname if el is not None else ""
    points = tuple(
        (_number(file, p, "x"), _number(file, p, "y")) for p in di.findall(f"{{{_DI}}}waypoint")
    )
    if len(points) < 2:
        raise ProcedureError(
            f"{file}: line {di.sourceline}: edge {di.get('id') or ref} has "
            f"{len(points)} waypoint(s); an edge needs two at least"
        )
    default = conditional = False
    condition = ""
    if el is not None and tag == "sequenceFlow":
        source = elements.get(el.get("sourceRef") or "")
        cond = el.find(f"{{{NS['bpmn']}}}conditionExpression")
        condition = " ".join("".join(cond.itertext()).split()) if cond is not None else ""
        if source is not None:
            default = source.get("default") == ref
            conditional = bool(condition) and etree.QName(source).localname not in GATEWAYS
    return Edge(
        id=ref,
        di_id=di.get("id") or "",
        tag=tag,
        name=label(el.get("name") or "") if el is not None else "",
        points=points,
        source=(el.get("sourceRef") or "") if el is not None else "",
        target=(el.get("targetRef") or "") if el is not None else "",
        label=_label_bounds(file, di),
        default=default,
        conditional=conditional,
        condition=condition,
        stroke=_colours(di).get("stroke"),
    )
