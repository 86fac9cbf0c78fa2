"""Draw a BPMN file's diagram as SVG, with each step's share and the path totals (``lienthong
render``); :mod:`lienthong.reports.diagram` paints a dossier's progress on the same picture.

Pure Python: lxml writes the SVG, :mod:`lienthong.bpmn.svgtext` decides where names break, and no
browser or font engine is needed. The picture follows bpmn-js's (what bpmn.io and Camunda Modeler
show): the shapes and routes of the file's BPMNDI, 1 pixel per diagram unit; pools and lanes with
their names in the band on their left; tasks with a type marker; events and gateways with their
markers and labels where the BPMNDI places them. lienthong adds a pill at the foot of each step
with its share of the deadline (``2d``, ``4h``, as ``lienthong:share`` is written), draws the
heaviest path's flows in blue, and writes a caption below: the deadline and the longest path's
total against it.

Every shape is an SVG group with ``data-element-id`` (the BPMN id) and ``data-di-id`` (the
BPMNShape's), every edge likewise, so a test or a script finds an element in the picture; an
external label is a group with ``data-label-for``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from lxml import etree

from lienthong.bpmn import svgshapes as shapes
from lienthong.bpmn.diagram import Box, Diagram, Edge, Shape, read_diagram
from lienthong.bpmn.svgshapes import INK, SVG, num, sub
from lienthong.bpmn.svgtext import LINE_HEIGHT, fit, shorten, text_width
from lienthong.legaltime.durations import MINUTES_PER_DAY, format_duration

__all__ = [
    "LegendItem",
    "Paint",
    "days_text",
    "process_caption",
    "render_bpmn",
    "render_svg",
    "share_text",
]

#: DejaVu Sans first: the widths svgtext measures are its own, and it has every Vietnamese letter
#: (an older Liberation Sans, which some Linux systems give for Arial, lacks some: ậ, ử).
FONT = "'DejaVu Sans', Arial, Helvetica, sans-serif"
MARGIN = 24
PATH_BLUE = "#1f6fb2"
PATH_FILL = "#eef4fb"
PILL_FILL, PILL_STROKE, PILL_INK = "#e8f0fb", "#8fb3e0", "#1b4f91"
WARN = "#b3261e"
MUTED = "#5f6368"
_ORDER = {"pool": 0, "lane": 1, "container": 2, "task": 3, "gateway": 3, "other": 3,
          "event": 4, "data-object": 4, "data-store": 4, "annotation": 5, "group": 6}  # fmt: skip


@attrs.frozen
class Paint:
    """How to draw one element differently: its fill and stroke, the text of its pill (``None``:
    the share, ``""``: no pill), a badge at its top right (``×2``), tooltip lines, a dashed
    border, and a class name for the SVG group."""

    fill: str | None = None
    stroke: str | None = None
    ink: str | None = None
    pill: str | None = None
    badge: str | None = None
    title: tuple[str, ...] = ()
    dashed: bool = False
    css: str = ""


@attrs.frozen
class LegendItem:
    """One entry of the legend: a sample (``box``: a task's colours, ``pill``: a pill with
    ``text``, ``line``: a flow) and what it means."""

    label: str
    fill: str = "#fff"
    stroke: str = INK
    sample: str = "box"
    text: str = ""
    dashed: bool = False


def share_text(minutes: int) -> str:
    """A share as ``lienthong:share`` writes it: ``2d``, ``4h``, ``1d4h``, ``0``."""
    return format_duration(minutes)


def days_text(minutes: int) -> str:
    """Working minutes in working days, to two decimals at most: ``9.5``, ``3``, ``0.13``."""
    return f"{round(minutes / MINUTES_PER_DAY, 2):g}"


def render_bpmn(source: str | Path | bytes, *, name: str | None = None) -> str:
    """The SVG picture of a BPMN file (a path, or its bytes with ``name`` for messages).
    :func:`~lienthong.bpmn.diagram.read_diagram` says what it refuses."""
    return render_svg(read_diagram(source, name=name))


def render_svg(
    diagram: Diagram,
    *,
    paint: Mapping[str, Paint] | None = None,
    caption: Sequence[str] | None = None,
    legend: Sequence[LegendItem] | None = None,
    longest: bool = True,
) -> str:
    """The SVG document of ``diagram``: ``paint`` changes how some elements are drawn (by BPMN
    id); ``caption`` replaces the default caption lines (the deadline and the longest path; the
    first line is the title; a later line that starts with ``!`` is drawn in red, without it)
    and ``legend`` the default legend; ``longest`` draws the longest path in blue."""
    return _Canvas(diagram, paint or {}, longest).draw(caption, legend)


class _Canvas:
    """One picture being drawn; it keeps the box of what it drew, for the SVG's viewBox."""

    def __init__(self, diagram: Diagram, paint: Mapping[str, Paint], longest: bool) -> None:
        self.d, self.paint = diagram, paint
        self.root = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
        self.defs = sub(self.root, "defs")
        self.markers: set[str] = set()
        self.box = diagram.extent
        path = diagram.longest_path if longest and diagram.longest_minutes > 0 else ()
        self.on_path = set(path)
        self.path_flows = set(itertools.pairwise(path))
        # Shares are shown for a lienthong process: one with a deadline, or a share somewhere.
        self.shares = diagram.deadline_minutes > 0 or any(
            s.share_minutes for s in diagram.steps.values()
        )

    # -- the document ------------------------------------------------------------------------
    def draw(self, caption: Sequence[str] | None, legend: Sequence[LegendItem] | None) -> str:
        if self.d.title:
            sub(self.root, "title", text=self.d.title)
        background = sub(self.root, "rect", {"fill": "#fff"})
        body = sub(self.root, "g", {"class": "diagram"})
        layers = {k: sub(body, "g", {"class": f"layer-{k}"}) for k in ("containers", "edges",
                  "nodes", "labels")}  # fmt: skip
        for s in sorted(self.d.shapes, key=lambda s: _ORDER.get(s.kind, 3)):
            layer = "containers" if _ORDER.get(s.kind, 3) < 3 else "nodes"
            self._shape(layers[layer], layers["labels"], s)
        for e in self.d.edges:
            self._edge(layers["edges"], layers["labels"], e)
        top = self.box.bottom + 28
        lines = list(caption) if caption is not None else process_caption(self.d)
        width = max(self.box.w, 640.0)
        top = self._caption_lines(lines, self.box.x, top, width)
        items = list(legend) if legend is not None else self._legend()
        if items:
            top = self._legend_rows(items, self.box.x, top + 8, width)
        self._grow(Box(self.box.x, self.box.y, self.box.w, top - self.box.y))
        x, y = self.box.x - MARGIN, self.box.y - MARGIN
        w, h = self.box.w + 2 * MARGIN, self.box.h + 2 * MARGIN
        self.root.set("viewBox", f"{num(x)} {num(y)} {num(w)} {num(h)}")
        self.root.set("width", num(w))
        self.root.set("height", num(h))
        self.root.set("font-family", FONT)
        for k, v in {"x": x, "y": y, "width": w, "height": h}.items():
            background.set(k, num(v))
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8").decode("utf-8")

    def _grow(self, b: Box) -> None:
        x0, y0 = min(self.box.x, b.x), min(self.box.y, b.y)
        x1, y1 = max(self.box.right, b.right), max(self.box.bottom, b.bottom)
        self.box = Box(x0, y0, x1 - x0, y1 - y0)

    def _marker(self, kind: str, colour: str) -> str:
        """The id of an arrowhead (``arrow``, ``open``) or start mark (``circle``) in
        ``colour``, defined once."""
        mid = f"{kind}-{colour.lstrip('#')}"
        if mid in self.markers:
            return f"url(#{mid})"
        self.markers.add(mid)
        m = sub(self.defs, "marker", {"id": mid, "viewBox": "0 0 20 20", "refX": 11, "refY": 10,
                "markerWidth": 20, "markerHeight": 20, "orient": "auto",
                "markerUnits": "userSpaceOnUse"})  # fmt: skip
        if kind == "arrow":
            sub(m, "path", {"d": "M1,5 L11,10 L1,15 Z", "fill": colour, "stroke": colour,
                            "stroke-width": 1, "stroke-linejoin": "round"})  # fmt: skip
        elif kind == "open":
            sub(m, "path", {"d": "M1,5 L11,10 L1,15", "fill": "none", "stroke": colour,
                            "stroke-width": 1.5})  # fmt: skip
        else:
            m.set("refX", "6")
            sub(m, "circle", {"cx": 6, "cy": 10, "r": 3.5, "fill": "#fff", "stroke": colour,
                              "stroke-width": 1.5})  # fmt: skip
        return f"url(#{mid})"

    def _text(
        self,
        parent: Any,
        lines: Sequence[str],
        x: float,
        top: float,
        size: float,
        *,
        anchor: str = "middle",
        ink: str = INK,
        bold: bool = False,
        italic: bool = False,
        backing: bool = False,
        grow: bool = True,
        css: str | None = None,
    ) -> float:
        """Lines of text from ``top`` down, anchored at ``x``; returns the bottom."""
        lh = size * LINE_HEIGHT
        if backing and lines:
            w = max(text_width(t, size, bold=bold) for t in lines) + 4
            left = x - w / 2 if anchor == "middle" else (x - 2 if anchor == "start" else x - w + 2)
            sub(parent, "rect", {"x": left, "y": top - 1, "width": w, "height": lh * len(lines) + 2,
                                 "fill": "#fff", "fill-opacity": 0.85})  # fmt: skip
        t = sub(parent, "text", {"font-size": size, "text-anchor": anchor, "fill": ink,
                "font-weight": "bold" if bold else None,
                "font-style": "italic" if italic else None, "class": css})  # fmt: skip
        for i, line in enumerate(lines):
            sub(t, "tspan", {"x": x, "y": top + i * lh + size * 0.95}, text=line)
        if grow and lines:
            w = max(text_width(line, size, bold=bold) for line in lines)
            left = x - w / 2 if anchor == "middle" else (x if anchor == "start" else x - w)
            self._grow(Box(left, top, w, lh * len(lines)))
        return top + lh * len(lines)

    # -- shapes ------------------------------------------------------------------------------
    def _group(self, parent: Any, s: Shape, p: Paint | None, kind: str) -> Any:
        css = " ".join(c for c in ("shape", kind, s.tag, p.css if p else "") if c)
        g = sub(parent, "g", {"class": css, "data-element-id": s.id, "data-di-id": s.di_id})
        tip = [t for t in (s.name, *_step_words(self.d, s.id), *(p.title if p else ())) if t]
        if tip:
            sub(g, "title", text="\n".join(tip))
        return g

    def _style(self, s: Shape, p: Paint | None, fill: str, width: float) -> dict[str, Any]:
        fill_ = (p.fill if p and p.fill else None) or s.fill or fill
        stroke = (p.stroke if p and p.stroke else None) or s.stroke or INK
        style: dict[str, Any] = {"fill": fill_, "stroke": stroke, "stroke-width": width}
        if p and p.dashed:
            style["stroke-dasharray"] = "6 3"
        return style

    def _shape(self, parent: Any, labels: Any, s: Shape) -> None:
        p = self.paint.get(s.id)
        g = self._group(parent, s, p, s.kind)
        b = s.bounds
        ink = (p.ink if p and p.ink else None) or INK
        if s.kind in ("pool", "lane"):
            style = self._style(s, p, "#fff" if s.kind == "pool" else "none", 1.5)
            sub(g, "rect", {"x": b.x, "y": b.y, "width": b.w, "height": b.h, **style})
            if s.kind == "pool" and s.name:
                if s.horizontal:
                    sub(g, "line", {"x1": b.x + 30, "y1": b.y, "x2": b.x + 30, "y2": b.bottom,
                                    "stroke": style["stroke"], "stroke-width": 1.5})  # fmt: skip
                else:
                    sub(g, "line", {"x1": b.x, "y1": b.y + 30, "x2": b.right, "y2": b.y + 30,
                                    "stroke": style["stroke"], "stroke-width": 1.5})  # fmt: skip
            self._band_label(g, s, ink)
        elif s.kind in ("task", "container"):
            self._task(g, s, p, ink)
        elif s.kind == "event":
            self._event(g, s, p)
        elif s.kind == "gateway":
            style = self._style(s, p, "#fff", 2)
            pts = [(b.cx, b.y), (b.right, b.cy), (b.cx, b.bottom), (b.x, b.cy)]
            sub(g, "polygon", {"points": shapes.points(pts), **style, "stroke-linejoin": "round"})
            shapes.gateway_marker(g, s.tag, b.cx, b.cy, min(b.w, b.h), style["stroke"])
        elif s.kind == "data-object":
            shapes.data_object(g, b.x, b.y, b.w, b.h, self._style(s, p, "#fff", 1.5))
        elif s.kind == "data-store":
            shapes.data_store(g, b.x, b.y, b.w, b.h, self._style(s, p, "#fff", 1.5))
        elif s.kind == "annotation":
            stroke = s.stroke or INK
            sub(g, "path", {"d": f"M{num(b.x + 12)},{num(b.y)} H{num(b.x)} V{num(b.bottom)} "
                                 f"H{num(b.x + 12)}", "fill": "none", "stroke": stroke,
                            "stroke-width": 1.5})  # fmt: skip
            f = fit(s.name, b.w - 10, b.h - 6, size=12, smallest=9)
            self._text(g, f.lines, b.x + 5, b.y + 3, f.size, anchor="start", ink=ink, grow=False)
        elif s.kind == "group":
            sub(g, "rect", {"x": b.x, "y": b.y, "width": b.w, "height": b.h, "rx": 10,
                            "fill": "none", "stroke": s.stroke or INK, "stroke-width": 1.5,
                            "stroke-dasharray": "10 6 2 6"})  # fmt: skip
        else:
            sub(g, "rect", {"x": b.x, "y": b.y, "width": b.w, "height": b.h,
                            **self._style(s, p, "#fff", 1), "stroke-dasharray": "4 3"})  # fmt: skip
            f = fit(s.name or s.id, b.w - 8, b.h - 6, size=11, smallest=8)
            self._text(g, f.lines, b.cx, b.cy - f.height / 2, f.size, ink=MUTED, grow=False)
        if s.kind in ("event", "gateway", "data-object", "data-store", "group"):
            self._external_label(labels, s)

    def _band_label(self, g: Any, s: Shape, ink: str) -> None:
        """A pool's or lane's name, in the 30-pixel band on its left (on top when vertical)."""
        if not s.name:
            return
        b = s.bounds
        bold = s.kind == "pool"
        if s.horizontal:
            f = fit(s.name, b.h - 20, 27, size=12, smallest=9, bold=bold)
            cx, cy = b.x + 15, b.cy
            t = sub(g, "g", {"transform": f"rotate(-90 {num(cx)} {num(cy)})"})
            self._text(t, f.lines, cx, cy - f.height / 2, f.size, ink=ink, bold=bold, grow=False)
        else:
            f = fit(s.name, b.w - 20, 27, size=12, smallest=9, bold=bold)
            self._text(g, f.lines, b.cx, b.y + 15 - f.height / 2, f.size, ink=ink, bold=bold,
                       grow=False)  # fmt: skip

    def _task(self, g: Any, s: Shape, p: Paint | None, ink: str) -> None:
        b = s.bounds
        step = self.d.steps.get(s.id)
        fill = PATH_FILL if s.id in self.on_path and s.kind == "task" else "#fff"
        width = 4 if s.tag == "callActivity" else (1.5 if s.kind == "container" else 2)
        style = self._style(s, p, fill if s.kind == "task" else "none", width)
        sub(g, "rect", {"x": b.x, "y": b.y, "width": b.w, "height": b.h, "rx": 10, **style})
        shapes.task_marker(g, s.tag, b.x, b.y, style["stroke"])
        pill = p.pill if p and p.pill is not None else None
        if (
            pill is None
            and step is not None
            and self.shares
            and (step.is_step or step.share_minutes)
        ):
            pill = share_text(step.share_minutes)
        foot = 0.0
        if s.kind == "task" and s.tag in ("subProcess", "transaction", "adHocSubProcess"):
            shapes.collapsed_marker(g, b.cx, b.bottom, style["stroke"])
            foot = 18
        if s.loop:
            shapes.loop_marker(g, s.loop, b.x + 16 if pill else b.cx, b.bottom, style["stroke"])
            foot = max(foot, 16)
        if pill:
            foot = max(foot, 20)
            self._pill(g, pill, b.cx, b.bottom - 18, p, room=b.w - 8)
        if s.kind == "container":  # an expanded subprocess: its name at the top, left
            f = fit(s.name, b.w - 30, 30, size=12, smallest=9)
            self._text(g, f.lines, b.x + 24, b.y + 5, f.size, anchor="start", ink=ink, grow=False)
        else:
            # below the type marker, which fills the top left 22 pixels
            top = b.y + 4 if s.tag in ("", "task") else b.y + 20
            room = b.bottom - foot - top - 2
            f = fit(s.name, b.w - 16, room, size=12, smallest=9)
            mid = top + room / 2
            self._text(g, f.lines, b.cx, mid - f.height / 2, f.size, ink=ink, grow=False,
                       css="name")  # fmt: skip
        if p and p.badge:
            w = text_width(p.badge, 10, bold=True) + 8
            sub(g, "rect", {"x": b.right - w - 4, "y": b.y + 4, "width": w, "height": 14,
                            "rx": 7, "fill": style["stroke"], "class": "badge"})  # fmt: skip
            self._text(g, [p.badge], b.right - 4 - w / 2, b.y + 4.5, 10, ink="#fff", bold=True,
                       grow=False)  # fmt: skip

    def _pill(
        self, g: Any, text: str, cx: float, top: float, p: Paint | None, room: float = 1e9
    ) -> None:
        size = 10.0
        while size > 8 and text_width(text, size, bold=True) + 10 > room:
            size -= 0.5
        text = shorten(text, room - 10, size, bold=True)
        w = text_width(text, size, bold=True) + 10
        fill, stroke, ink = PILL_FILL, PILL_STROKE, PILL_INK
        if text == "0":  # no share of its own: there, but quiet
            fill, stroke, ink = "#f1f3f4", "#c4c7cc", MUTED
        if p is not None and p.pill is not None:
            fill, stroke = "#fff", p.stroke or stroke
            ink = p.ink or p.stroke or ink
        sub(g, "rect", {"x": cx - w / 2, "y": top, "width": w, "height": 14, "rx": 7, "fill": fill,
                        "stroke": stroke, "stroke-width": 1, "class": "pill"})  # fmt: skip
        self._text(g, [text], cx, top + 0.6, size, ink=ink, bold=True, grow=False)

    def _event(self, g: Any, s: Shape, p: Paint | None) -> None:
        b = s.bounds
        r = min(b.w, b.h) / 2
        width = 4 if s.tag == "endEvent" else (2 if s.tag == "startEvent" else 1.5)
        style = self._style(s, p, "#fff", width)
        if not s.interrupting:
            style["stroke-dasharray"] = "5.5 3"
        sub(g, "circle", {"cx": b.cx, "cy": b.cy, "r": r, **style})
        if s.tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
            sub(g, "circle", {"cx": b.cx, "cy": b.cy, "r": r - 3, **style, "fill": "none"})
        if s.event:
            shapes.event_marker(g, s.event, b.cx, b.cy, r, s.throwing, style["stroke"])

    def _external_label(self, labels: Any, s: Shape) -> None:
        if not s.name:
            return
        g = sub(labels, "g", {"class": "label", "data-label-for": s.id})
        b = s.bounds
        if s.kind == "group":
            f = fit(s.name, b.w - 10, 40, size=11, smallest=9)
            self._text(g, f.lines, b.cx, b.y + 4, f.size)
            return
        lab = s.label
        width = max(lab.w, 90) if lab is not None else 100
        f = fit(s.name, width, 4 * 11 * LINE_HEIGHT, size=11, smallest=9)
        if lab is not None:
            top = lab.y if lab.h >= f.height else lab.cy - f.height / 2
            self._text(g, f.lines, lab.cx, top, f.size)
        else:
            self._text(g, f.lines, b.cx, b.bottom + 5, f.size)

    # -- edges -------------------------------------------------------------------------------
    def _edge(self, parent: Any, labels: Any, e: Edge) -> None:
        on_path = e.tag == "sequenceFlow" and (e.source, e.target) in self.path_flows
        css = " ".join(c for c in ("edge", e.tag, "longest" if on_path else "") if c)
        g = sub(parent, "g", {"class": css, "data-element-id": e.id, "data-di-id": e.di_id})
        tip = e.name or e.condition
        if tip:
            sub(g, "title", text="\n".join(t for t in (e.name, e.condition) if t))
        colour = e.stroke or (PATH_BLUE if on_path else INK)
        style: dict[str, Any] = {"fill": "none", "stroke": colour, "stroke-linejoin": "round",
                                 "stroke-width": 2.4 if on_path else 1.5}  # fmt: skip
        if e.tag == "messageFlow":
            style.update({"stroke-dasharray": "10 6",
                          "marker-start": self._marker("circle", colour),
                          "marker-end": self._marker("open", colour)})  # fmt: skip
        elif e.tag == "association":
            style.update({"stroke-dasharray": "1 4", "stroke-linecap": "round"})
        elif e.tag in ("dataInputAssociation", "dataOutputAssociation"):
            style.update({"stroke-dasharray": "1 4", "stroke-linecap": "round",
                          "marker-end": self._marker("open", colour)})  # fmt: skip
        else:
            style["marker-end"] = self._marker("arrow", colour)
        sub(g, "polyline", {"points": shapes.points(list(e.points)), **style})
        (x0, y0), (x1, y1) = e.points[0], e.points[1]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        if e.default:  # a slash across the flow where it leaves the gateway
            mx, my = x0 + ux * 11, y0 + uy * 11
            vx, vy = (ux - uy) * 6, (uy + ux) * 6
            sub(g, "line", {"x1": mx - vx, "y1": my - vy, "x2": mx + vx, "y2": my + vy,
                            "stroke": colour, "stroke-width": 1.5})  # fmt: skip
        if e.conditional:  # a diamond where a conditional flow leaves a task
            pts = [(x0, y0), (x0 + ux * 8 - uy * 5, y0 + uy * 8 + ux * 5),
                   (x0 + ux * 16, y0 + uy * 16),
                   (x0 + ux * 8 + uy * 5, y0 + uy * 8 - ux * 5)]  # fmt: skip
            sub(g, "polygon", {"points": shapes.points(pts), "fill": "#fff", "stroke": colour,
                               "stroke-width": 1.2})  # fmt: skip
        self._edge_label(labels, e)

    def _edge_label(self, labels: Any, e: Edge) -> None:
        text, italic = (e.name, False) if e.name else (e.condition, True)
        if not text or (italic and e.tag != "sequenceFlow"):
            return
        g = sub(labels, "g", {"class": "label condition" if italic else "label",
                              "data-label-for": e.id})  # fmt: skip
        ink = MUTED if italic else INK
        if e.label is not None:
            f = fit(text, max(e.label.w, 90), 3 * 11 * LINE_HEIGHT, size=11, smallest=9)
            top = e.label.y if e.label.h >= f.height else e.label.cy - f.height / 2
            self._text(g, f.lines, e.label.cx, top, f.size, ink=ink, italic=italic, backing=True)
            return
        (x, y), horizontal = _middle(e.points)
        f = fit(text, 110, 3 * 11 * LINE_HEIGHT, size=11, smallest=9)
        if horizontal:
            self._text(g, f.lines, x, y - f.height - 3, f.size, ink=ink, italic=italic,
                       backing=True)  # fmt: skip
        else:
            self._text(g, f.lines, x + 5, y - f.height / 2, f.size, anchor="start", ink=ink,
                       italic=italic, backing=True)  # fmt: skip

    # -- caption and legend ------------------------------------------------------------------
    def _caption_lines(self, lines: list[str], x: float, top: float, width: float) -> float:
        g = sub(self.root, "g", {"class": "caption"})
        for i, line in enumerate(lines):
            warn = i > 0 and line.startswith("!")
            line = line[1:] if warn else line
            size = 14.0 if i == 0 else 12.0
            f = fit(line, width, 200, size=size, smallest=size, bold=i == 0)
            top = self._text(g, f.lines, x, top, size, anchor="start", bold=i == 0 or warn,
                             ink=WARN if warn else INK) + 3  # fmt: skip
        return top

    def _legend(self) -> list[LegendItem]:
        items = []
        if self.shares and any(s.is_step for s in self.d.steps.values()):
            items.append(LegendItem("a step's share of the deadline (lienthong:share), in "
                                    "working days (d) and hours (h) of 8 per day", sample="pill",
                                    text="2d"))  # fmt: skip
        if self.path_flows:
            items.append(LegendItem("the longest path", stroke=PATH_BLUE, sample="line"))
        return items

    def _legend_rows(
        self, items: Sequence[LegendItem], x: float, top: float, width: float
    ) -> float:
        g = sub(self.root, "g", {"class": "legend"})
        at, row = x, top
        for item in items:
            text = shorten(item.label, width - 40, 11)
            w = 36 + text_width(text, 11) + 18
            if at > x and at + w > x + width:
                at, row = x, row + 22
            sample: dict[str, Any] = {"stroke": item.stroke, "stroke-width": 1.5}
            if item.dashed:
                sample["stroke-dasharray"] = "4 2"
            if item.sample == "line":
                sub(g, "line", {"x1": at, "y1": row + 8, "x2": at + 28, "y2": row + 8, **sample,
                                "stroke-width": 2.4})  # fmt: skip
            elif item.sample == "pill":
                self._pill(g, item.text, at + 14, row + 1, None)
            else:
                sub(g, "rect", {"x": at, "y": row, "width": 28, "height": 16, "rx": 4,
                                "fill": item.fill, **sample})  # fmt: skip
            self._text(g, [text], at + 36, row + 1, 11, anchor="start")
            at += w
        return row + 22


def process_caption(d: Diagram) -> list[str]:
    """The default caption: the title, the deadline, the longest path's total against it (a
    line starting with ``!`` is drawn in red) and the steps along it."""
    lines = [f"{d.title} ({d.code})" if d.code and d.title else d.title or d.file]
    if not d.deadline_minutes:
        lines.append("no lienthong deadline or shares could be read: run lienthong lint")
        return lines
    deadline = days_text(d.deadline_minutes)
    unit = "working day" if deadline == "1" else "working days"
    words = "same day (trong ngày)" if d.same_day else f"{deadline} {unit}"
    lines.append(f"deadline (thời hạn giải quyết): {words}")
    if d.longest_minutes >= 0:
        total = days_text(d.longest_minutes)
        line = f"longest path (đường dài nhất): {total} of {deadline} {unit}"
        over = d.longest_minutes - d.deadline_minutes
        if over > 0:
            line = f"!{line}: {share_text(over)} over the deadline"
        lines.append(line)
        steps = [
            f"{d.names.get(i) or i} {share_text(d.steps[i].share_minutes)}"
            for i in d.longest_path
            if i in d.steps and d.steps[i].share_minutes
        ]
        if steps:
            lines.append("along it: " + " + ".join(steps))
    return lines


def _step_words(d: Diagram, eid: str) -> list[str]:
    step = d.steps.get(eid)
    if step is None:
        return []
    words = [
        f"{step.kind} task {eid}",
        f"share (lienthong:share): {share_text(step.share_minutes)}",
    ]
    if step.role:
        words.append(f"unit role: {step.role}")
    if step.step_kind != "processing":
        words.append(f"step kind: {step.step_kind}")
    return words


def _middle(pts: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], bool]:
    """The point halfway along a route, and whether the segment it is on is horizontal."""
    segs = list(itertools.pairwise(pts))
    lengths = [abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in segs]
    half = sum(lengths) / 2
    for (a, b), n in zip(segs, lengths, strict=True):
        if half <= n and n > 0:
            t = half / n
            return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t), abs(b[1] - a[1]) <= abs(
                b[0] - a[0]
            )
        half -= n
    a, b = segs[-1]
    return b, abs(b[1] - a[1]) <= abs(b[0] - a[0])
