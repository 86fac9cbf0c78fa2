"""An automatic diagram (BPMNDI) for a process whose steps are placed on a grid.

The caller says where each flow node goes: its lane, its column (left to right, in step order)
and its track (the row inside its lane, for parallel branches that share a lane). This module
turns that into coordinates the way a designer would draw it in bpmn.io or Camunda Modeler:
one horizontal pool, its lanes stacked, each element centred in its column and on its track,
sequence flows orthogonal (horizontal and vertical segments only) with their waypoints, and the
labels of events, gateways and named flows placed where nothing else is drawn.

Flows never cross a shape because of how the grid is used (:mod:`lienthong.bpmn.tables`): a
column holds either one element or the elements of one parallel or exclusive block, so a flow
turns only in a gateway's own column or in the gap between two columns. The sizes follow the
files in ``processes/`` (``docs/tools/render_bpmn.md``): tasks 140 × 90, gateways 50 × 50,
events 36 × 36, lanes at least 220 high, columns 200 apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
from lxml import etree

from lienthong.errors import InternalError

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"

POOL_X, POOL_Y = 160, 80
BAND = 30  # the pool's label band on its left; the lanes start after it
COL_W = 200
TASK_W, TASK_H = 140, 90
GATEWAY = 50
EVENT = 36
LANE_MIN = 220
TRACK_H = 150
#: bpmn-js writes a lane's name up its left band, about 7 px a character in two lines.
_PX_PER_CHAR = 4.0
#: Task names wrap at about 20 characters a line, 15 px a line, inside the task box.
_CHARS_PER_LINE = 18


@attrs.frozen
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def overlaps(self, other: Rect) -> bool:
        """True when the two rectangles share more than an edge."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@attrs.frozen
class Place:
    """Where a flow node goes: ``shape`` is ``task``, ``gateway`` or ``event``."""

    id: str
    shape: str
    lane: str
    column: int
    track: int = 0
    name: str = ""
    exclusive: bool = False  # an exclusive gateway: bpmn-js draws its X only when told


@attrs.frozen
class Link:
    """A sequence flow between two placed nodes; ``name`` is drawn beside it."""

    id: str
    source: str
    target: str
    name: str = ""


@attrs.define
class Diagram:
    """The coordinates of everything drawn."""

    pool: Rect
    lanes: dict[str, Rect]
    shapes: dict[str, Rect]
    labels: dict[str, Rect]
    edges: dict[str, list[tuple[float, float]]]
    edge_labels: dict[str, Rect]


def _task_height(name: str) -> float:
    lines = max(1, math.ceil(len(name) / _CHARS_PER_LINE))
    return max(TASK_H, lines * 15 + 40)  # the task's icon takes the first line's left


def _size(place: Place) -> tuple[float, float]:
    if place.shape == "task":
        return TASK_W, _task_height(place.name)
    if place.shape == "gateway":
        return GATEWAY, GATEWAY
    return EVENT, EVENT


def _label_height(name: str) -> float:
    """How high a lane or pool must be for bpmn-js to write ``name`` in its band."""
    return math.ceil(len(name) * _PX_PER_CHAR) + 20


def arrange(
    lanes: Sequence[tuple[str, str]],
    places: Sequence[Place],
    links: Sequence[Link],
    *,
    pool_name: str = "",
) -> Diagram:
    """The diagram of ``places`` in ``lanes`` (id, name; top to bottom) joined by ``links``, in
    a pool named ``pool_name``."""
    spots: dict[tuple[str, int, int], str] = {}
    for p in places:
        key = (p.lane, p.column, p.track)
        if key in spots:  # the caller's grid is wrong: it is lienthong's bug, not the user's
            raise InternalError(f"layout: {p.id} and {spots[key]} are placed on the same spot")
        spots[key] = p.id
    track_h = max([TRACK_H] + [_size(p)[1] + 60 for p in places])
    columns = 1 + max((p.column for p in places), default=0)
    width = columns * COL_W
    lane_x = POOL_X + BAND
    lane_rects: dict[str, Rect] = {}
    tracks: dict[str, int] = {}
    y = float(POOL_Y)
    for lane_id, name in lanes:
        n = 1 + max((p.track for p in places if p.lane == lane_id), default=0)
        tracks[lane_id] = n
        h = max(LANE_MIN + (n - 1) * track_h, _label_height(name))
        lane_rects[lane_id] = Rect(lane_x, y, width, h)
        y += h
    short = _label_height(pool_name) - (y - POOL_Y)
    if short > 0 and lane_rects:  # the pool's name needs more height: give it to the last lane
        last = list(lane_rects)[-1]
        box = lane_rects[last]
        lane_rects[last] = Rect(box.x, box.y, box.w, box.h + short)
        y += short
    pool = Rect(POOL_X, POOL_Y, BAND + width, y - POOL_Y)
    shapes: dict[str, Rect] = {}
    labels: dict[str, Rect] = {}
    kinds = {p.id: p.shape for p in places}
    for p in places:
        lane = lane_rects[p.lane]
        n = tracks[p.lane]
        cy = lane.y + (lane.h - n * track_h) / 2 + track_h * (p.track + 0.5)
        cx = lane_x + COL_W / 2 + p.column * COL_W
        w, h = _size(p)
        box = Rect(cx - w / 2, cy - h / 2, w, h)
        shapes[p.id] = box
        if p.name and p.shape == "event":
            labels[p.id] = Rect(cx - 55, box.bottom + 6, 110, 40)
        elif p.name and p.shape == "gateway":
            # Above and left of the gateway: the flow in comes from the left at its middle,
            # flows out leave by its right, top or bottom corner.
            labels[p.id] = Rect(box.x - 100, cy - 50, 95, 40)
    edges: dict[str, list[tuple[float, float]]] = {}
    edge_labels: dict[str, Rect] = {}
    for link in links:
        s, t = shapes[link.source], shapes[link.target]
        points = _route(s, t, kinds[link.source], kinds[link.target])
        edges[link.id] = points
        if link.name:
            edge_labels[link.id] = _edge_label(points, link.name)
    return Diagram(pool, lane_rects, shapes, labels, edges, edge_labels)


def _route(s: Rect, t: Rect, s_kind: str, t_kind: str) -> list[tuple[float, float]]:
    """Orthogonal waypoints from ``s`` to ``t``, which lies to its right."""
    if abs(s.cy - t.cy) < 0.5:
        return [(s.right, s.cy), (t.x, t.cy)]
    if s_kind == "gateway":  # a split: down (or up) from its corner, then into the target
        corner = s.bottom if t.cy > s.cy else s.y
        return [(s.cx, corner), (s.cx, t.cy), (t.x, t.cy)]
    if t_kind == "gateway":  # a join: along the branch's track, then into its corner
        corner = t.y if s.cy < t.cy else t.bottom
        return [(s.right, s.cy), (t.cx, s.cy), (t.cx, corner)]
    mid = (s.right + t.x) / 2  # between two columns, where nothing is drawn
    return [(s.right, s.cy), (mid, s.cy), (mid, t.cy), (t.x, t.cy)]


def _edge_label(points: list[tuple[float, float]], name: str) -> Rect:
    """Above the flow's last horizontal segment, the one that enters the target."""
    (x1, y1), (x2, _y2) = points[-2], points[-1]
    if x1 == x2:  # ends vertically (into a join): above its first segment instead
        (x1, y1), (x2, _y2) = points[0], points[1]
    width = max(40.0, abs(x2 - x1) - 10)
    lines = max(1, math.ceil(len(name) * 6 / width))
    h = 14.0 * lines
    return Rect(min(x1, x2) + 5, y1 - h - 6, width, h)


def write_diagram(
    definitions: etree._Element,
    diagram: Diagram,
    *,
    prefix: str,
    collaboration: str,
    participant: str,
    exclusive: Sequence[str] = (),
) -> etree._Element:
    """Append ``diagram`` to ``definitions`` as a ``bpmndi:BPMNDiagram`` over the
    collaboration; ``exclusive`` lists the exclusive gateways (their X marker is shown)."""
    d = etree.SubElement(definitions, f"{{{BPMNDI}}}BPMNDiagram", id=f"{prefix}_diagram")
    plane = etree.SubElement(
        d, f"{{{BPMNDI}}}BPMNPlane", id=f"{prefix}_plane", bpmnElement=collaboration
    )

    def shape(element: str, box: Rect, label: Rect | None = None, **attrs_: str) -> None:
        s = etree.SubElement(
            plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element}_di", bpmnElement=element, **attrs_
        )
        _bounds(s, box)
        if label is not None:
            _bounds(etree.SubElement(s, f"{{{BPMNDI}}}BPMNLabel"), label)

    shape(participant, diagram.pool, isHorizontal="true")
    for lane_id, box in diagram.lanes.items():
        shape(lane_id, box, isHorizontal="true")
    marked = set(exclusive)
    for element, box in diagram.shapes.items():
        extra = {"isMarkerVisible": "true"} if element in marked else {}
        shape(element, box, diagram.labels.get(element), **extra)
    for flow, points in diagram.edges.items():
        e = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow}_di", bpmnElement=flow)
        for x, y in points:
            etree.SubElement(e, f"{{{DI}}}waypoint", x=_num(x), y=_num(y))
        if flow in diagram.edge_labels:
            _bounds(etree.SubElement(e, f"{{{BPMNDI}}}BPMNLabel"), diagram.edge_labels[flow])
    return d


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _bounds(parent: etree._Element, box: Rect) -> None:
    etree.SubElement(
        parent,
        f"{{{DC}}}Bounds",
        x=_num(box.x),
        y=_num(box.y),
        width=_num(box.w),
        height=_num(box.h),
    )
