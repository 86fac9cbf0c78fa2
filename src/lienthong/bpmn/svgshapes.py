"""The small pictures inside BPMN shapes, in SVG: task type markers (user, service, script, ...),
event definitions (timer, message, ...), gateway markers (exclusive ×, parallel +, ...), loop
markers, and the data object and data store outlines.

They follow BPMN 2.0's notation as bpmn-js draws it, simplified to a few strokes each: the point
is that a designer recognises the type at a glance, not a copy of bpmn-js's icons.
"""

from __future__ import annotations

import math
from typing import Any

from lxml import etree

SVG = "http://www.w3.org/2000/svg"
INK = "#22242a"


def num(v: float) -> str:
    """A coordinate as SVG text: two decimals at most, no trailing zeros."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sub(parent: Any, tag: str, attrs: dict[str, Any] | None = None, text: str | None = None) -> Any:
    """A new SVG element under ``parent``; numbers in ``attrs`` are written with :func:`num`,
    ``None`` values are left out."""
    el = etree.SubElement(parent, f"{{{SVG}}}{tag}")
    for k, v in (attrs or {}).items():
        if v is None:
            continue
        el.set(k, num(v) if isinstance(v, float | int) and not isinstance(v, bool) else str(v))
    if text is not None:
        el.text = text
    return el


def points(pts: list[tuple[float, float]]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in pts)


# -- tasks ---------------------------------------------------------------------------------------
def task_marker(g: Any, tag: str, x: float, y: float, ink: str = INK) -> None:
    """The type marker at the top left of a task whose box starts at ``(x, y)``."""
    ox, oy = x + 7, y + 6
    line = {"fill": "none", "stroke": ink, "stroke-width": 1.1}
    if tag == "userTask":
        sub(g, "circle", {"cx": ox + 7, "cy": oy + 4.5, "r": 3.3, **line})
        sub(g, "path", {"d": f"M{num(ox + 1)},{num(oy + 15)} c0,-5.5 12,-5.5 12,0 z", **line})
    elif tag == "serviceTask":
        cx, cy = ox + 7, oy + 7
        # A gear: a thick dashed ring is its teeth.
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 5, "fill": "none", "stroke": ink,
                          "stroke-width": 2.6, "stroke-dasharray": "2.1 1.83"})  # fmt: skip
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 3.6, "fill": "#fff", "stroke": ink,
                          "stroke-width": 1})  # fmt: skip
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 1.4, **line})
    elif tag == "scriptTask":
        d = (f"M{num(ox + 3)},{num(oy)} h9 c-3,2.5 -3,5 0,7.5 c3,2.5 3,5 0,7.5 h-9 "
             f"c3,-2.5 3,-5 0,-7.5 c-3,-2.5 -3,-5 0,-7.5 z")  # fmt: skip
        sub(g, "path", {"d": d, **line})
        for i, dy in enumerate((3.5, 6.5, 9.5, 12.5)):
            sub(g, "line", {"x1": ox + 4.6 + (i % 2) * 0.8, "y1": oy + dy,
                            "x2": ox + 9.6 + (i % 2) * 0.8, "y2": oy + dy, **line})  # fmt: skip
    elif tag == "manualTask":
        d = (f"M{num(ox)},{num(oy + 7)} h3 v-5 a1,1 0 0 1 2,0 v4 v-5 a1,1 0 0 1 2,0 v5 v-4 "
             f"a1,1 0 0 1 2,0 v4 v-2.5 a1,1 0 0 1 2,0 v6 c0,3 -2,5.5 -5,5.5 h-3 "
             f"c-2,0 -3,-1 -3,-3 z")  # fmt: skip
        sub(g, "path", {"d": d, **line})
    elif tag in ("sendTask", "receiveTask"):
        filled = tag == "sendTask"
        sub(g, "rect", {"x": ox, "y": oy + 2, "width": 15, "height": 10, "stroke": ink,
                        "fill": ink if filled else "none", "stroke-width": 1})  # fmt: skip
        sub(g, "path", {"d": f"M{num(ox)},{num(oy + 2)} l7.5,5 l7.5,-5", "fill": "none",
                        "stroke": "#fff" if filled else ink, "stroke-width": 1})  # fmt: skip
    elif tag == "businessRuleTask":
        sub(g, "rect", {"x": ox, "y": oy + 1, "width": 15, "height": 11, **line})
        sub(g, "rect", {"x": ox, "y": oy + 1, "width": 15, "height": 3.5, "fill": ink})
        sub(g, "line", {"x1": ox, "y1": oy + 8.2, "x2": ox + 15, "y2": oy + 8.2, **line})
        sub(g, "line", {"x1": ox + 4.5, "y1": oy + 4.5, "x2": ox + 4.5, "y2": oy + 12, **line})


def loop_marker(g: Any, loop: str, cx: float, bottom: float, ink: str = INK) -> None:
    """A loop or multi-instance marker centred on ``cx``, above ``bottom``."""
    line = {"fill": "none", "stroke": ink, "stroke-width": 1.5}
    y = bottom - 15
    if loop == "loop":
        sub(g, "path", {"d": f"M{num(cx - 3)},{num(y + 11)} a5,5 0 1 1 6,0", **line})
        sub(g, "path", {"d": f"M{num(cx - 6)},{num(y + 9)} l3,2 l-1,3", **line})
    else:
        for i in (-4, 0, 4):
            if loop == "parallel":
                sub(g, "line", {"x1": cx + i, "y1": y, "x2": cx + i, "y2": y + 11, **line})
            else:
                sub(g, "line", {"x1": cx - 6, "y1": y + 5.5 + i, "x2": cx + 6,
                                "y2": y + 5.5 + i, **line})  # fmt: skip


def collapsed_marker(g: Any, cx: float, bottom: float, ink: str = INK) -> None:
    """The [+] of a collapsed subprocess."""
    line = {"fill": "none", "stroke": ink, "stroke-width": 1.2}
    sub(g, "rect", {"x": cx - 7, "y": bottom - 17, "width": 14, "height": 14, **line})
    sub(g, "path", {"d": f"M{num(cx)},{num(bottom - 14)} v8 M{num(cx - 4)},{num(bottom - 10)} h8",
                    **line})  # fmt: skip


# -- events --------------------------------------------------------------------------------------
def event_marker(
    g: Any, kind: str, cx: float, cy: float, r: float, throwing: bool, ink: str = INK
) -> None:
    """The event definition's symbol inside an event circle of radius ``r``: filled for an
    event that throws (an end event, an intermediate throw event), outlined for one that
    catches."""
    s = r / 18  # the symbols are drawn for bpmn-js's 36-pixel events
    fill = ink if throwing else "none"
    line = {"fill": fill, "stroke": ink, "stroke-width": 1.3, "stroke-linejoin": "round"}

    def poly(pts: list[tuple[float, float]]) -> None:
        sub(g, "polygon", {"points": points([(cx + x * s, cy + y * s) for x, y in pts]), **line})

    if kind == "timer":
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 10 * s, "fill": "#fff", "stroke": ink,
                          "stroke-width": 1.5})  # fmt: skip
        for i in range(12):
            a = i * math.pi / 6
            inner = 7.5 if i % 3 else 6.5
            sub(g, "line", {"x1": cx + inner * s * math.cos(a), "y1": cy + inner * s * math.sin(a),
                            "x2": cx + 9.5 * s * math.cos(a), "y2": cy + 9.5 * s * math.sin(a),
                            "stroke": ink, "stroke-width": 0.8})  # fmt: skip
        sub(g, "path", {"d": f"M{num(cx)},{num(cy)} l{num(5 * s)},{num(-3 * s)} "
                             f"M{num(cx)},{num(cy)} l{num(-1 * s)},{num(-6 * s)}",
                        "stroke": ink, "stroke-width": 1.3, "fill": "none"})  # fmt: skip
    elif kind == "message":
        w, h = 15 * s, 10 * s
        sub(g, "rect", {"x": cx - w / 2, "y": cy - h / 2, "width": w, "height": h, **line})
        sub(g, "path", {"d": f"M{num(cx - w / 2)},{num(cy - h / 2)} l{num(w / 2)},{num(h * 0.55)} "
                             f"l{num(w / 2)},{num(-h * 0.55)}", "fill": "none",
                        "stroke": "#fff" if throwing else ink, "stroke-width": 1.1})  # fmt: skip
    elif kind == "signal":
        poly([(0, -9), (8, 6), (-8, 6)])
    elif kind == "error":
        poly([(-7, 7), (-3, -7), (1.5, 1), (7, -7), (3, 7), (-1.5, -1)])
    elif kind == "escalation":
        poly([(0, -8), (6, 7), (0, 2), (-6, 7)])
    elif kind == "compensate":
        poly([(-1, -6), (-1, 6), (-9, 0)])
        poly([(8, -6), (8, 6), (0, 0)])
    elif kind == "link":
        poly([(-8, -3), (2, -3), (2, -7), (8, 0), (2, 7), (2, 3), (-8, 3)])
    elif kind == "conditional":
        sub(g, "rect", {"x": cx - 6 * s, "y": cy - 8 * s, "width": 12 * s, "height": 16 * s,
                        "fill": "none", "stroke": ink, "stroke-width": 1.2})  # fmt: skip
        for dy in (-5, -1.7, 1.7, 5):
            sub(g, "line", {"x1": cx - 4 * s, "y1": cy + dy * s, "x2": cx + 4 * s,
                            "y2": cy + dy * s, "stroke": ink, "stroke-width": 1})  # fmt: skip
    elif kind == "terminate":
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 10 * s, "fill": ink})
    elif kind == "cancel":
        sub(g, "path", {"d": f"M{num(cx - 6 * s)},{num(cy - 6 * s)} l{num(12 * s)},{num(12 * s)} "
                             f"M{num(cx + 6 * s)},{num(cy - 6 * s)} l{num(-12 * s)},{num(12 * s)}",
                        "stroke": ink, "stroke-width": 3 * s, "fill": "none"})  # fmt: skip
    elif kind in ("multiple", "parallelMultiple"):
        pent = [(9 * math.sin(i * 2 * math.pi / 5), -9 * math.cos(i * 2 * math.pi / 5))
                for i in range(5)]  # fmt: skip
        poly(pent)


# -- gateways ------------------------------------------------------------------------------------
def gateway_marker(
    g: Any, tag: str, cx: float, cy: float, size: float, ink: str = INK, marked: bool = True
) -> None:
    """The marker inside a gateway's diamond of width ``size``: × exclusive, + parallel, ○
    inclusive, a pentagon in a double circle event-based, * complex."""
    s = size / 50
    thick = {"stroke": ink, "stroke-width": 4 * s, "stroke-linecap": "square", "fill": "none"}
    if tag == "exclusiveGateway" and marked:
        d = 8 * s
        sub(g, "path", {"d": f"M{num(cx - d)},{num(cy - d)} L{num(cx + d)},{num(cy + d)} "
                             f"M{num(cx + d)},{num(cy - d)} L{num(cx - d)},{num(cy + d)}",
                        **thick})  # fmt: skip
    elif tag == "parallelGateway":
        d = 11 * s
        sub(g, "path", {"d": f"M{num(cx)},{num(cy - d)} V{num(cy + d)} "
                             f"M{num(cx - d)},{num(cy)} H{num(cx + d)}", **thick})  # fmt: skip
    elif tag == "inclusiveGateway":
        sub(g, "circle", {"cx": cx, "cy": cy, "r": 11 * s, "fill": "none", "stroke": ink,
                          "stroke-width": 2.5 * s})  # fmt: skip
    elif tag == "complexGateway":
        d, e = 11 * s, 7.8 * s
        sub(g, "path", {"d": f"M{num(cx)},{num(cy - d)} V{num(cy + d)} M{num(cx - d)},{num(cy)} "
                             f"H{num(cx + d)} M{num(cx - e)},{num(cy - e)} L{num(cx + e)},"
                             f"{num(cy + e)} M{num(cx + e)},{num(cy - e)} L{num(cx - e)},"
                             f"{num(cy + e)}", **{**thick, "stroke-width": 3 * s}})  # fmt: skip
    elif tag == "eventBasedGateway":
        for r in (12 * s, 9.5 * s):
            sub(g, "circle", {"cx": cx, "cy": cy, "r": r, "fill": "none", "stroke": ink,
                              "stroke-width": 1})  # fmt: skip
        pent = [(cx + 6 * s * math.sin(i * 2 * math.pi / 5),
                 cy - 6 * s * math.cos(i * 2 * math.pi / 5)) for i in range(5)]  # fmt: skip
        sub(g, "polygon", {"points": points(pent), "fill": "none", "stroke": ink,
                           "stroke-width": 1.2})  # fmt: skip


# -- data ----------------------------------------------------------------------------------------
def data_object(g: Any, x: float, y: float, w: float, h: float, style: dict[str, Any]) -> None:
    fold = min(w, h) * 0.3
    d = (f"M{num(x)},{num(y)} H{num(x + w - fold)} L{num(x + w)},{num(y + fold)} "
         f"V{num(y + h)} H{num(x)} Z M{num(x + w - fold)},{num(y)} V{num(y + fold)} "
         f"H{num(x + w)}")  # fmt: skip
    sub(g, "path", {"d": d, **style})


def data_store(g: Any, x: float, y: float, w: float, h: float, style: dict[str, Any]) -> None:
    ry = min(h * 0.15, 8)
    rx = w / 2
    d = (
        f"M{num(x)},{num(y + ry)} A{num(rx)},{num(ry)} 0 0 1 {num(x + w)},{num(y + ry)} "
        f"V{num(y + h - ry)} A{num(rx)},{num(ry)} 0 0 1 {num(x)},{num(y + h - ry)} Z"
    )
    sub(g, "path", {"d": d, **style})
    for k in (1, 1.9, 2.8):
        sub(g, "path", {"d": f"M{num(x)},{num(y + ry * k)} A{num(rx)},{num(ry)} 0 0 0 "
                             f"{num(x + w)},{num(y + ry * k)}",
                        "fill": "none", "stroke": style.get("stroke", INK),
                        "stroke-width": style.get("stroke-width", 1.5)})  # fmt: skip
