"""A published internal process (quy trình nội bộ) as a table -> a BPMN file lienthong runs.

A province publishes each procedure's internal process as a table: step number, what is done,
the unit (and role) that does it, the time it takes, and, for liên thông procedures, which
steps run in parallel. :func:`~lienthong.bpmn.table_input.read_table` reads such a table from
a CSV or TOML file; :func:`table_bpmn` makes the BPMN file: one lane per unit role, the steps as
tasks in table order with their lienthong properties (``docs/bpmn-properties.md``), a parallel
gateway split and join around each parallel group, an exclusive split and merge around each
choice group, and a diagram (:mod:`lienthong.bpmn.layout`) that opens in bpmn.io and Camunda
Modeler. The file is then checked by the rules ``lienthong lint`` uses; a table that cannot
become a file lienthong loads is refused with a :class:`~lienthong.errors.TableError` naming
each bad row and column, and nothing is made.

The columns and header keys, with their Vietnamese names, are in ``docs/designers.md`` ("From a
table").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import attrs
from lxml import etree

from lienthong.bpmn import layout
from lienthong.bpmn.checks import check_document
from lienthong.bpmn.problems import Problem
from lienthong.bpmn.table_input import (
    DEFAULT_CONDITIONS,
    Row,
    Table,
    TableProblems,
    normalise,
    read_table,
    slug,
)
from lienthong.legaltime.durations import SAME_DAY, format_duration

__all__ = ["Built", "read_table", "table_bpmn"]

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {
    "bpmn": BPMN,
    "bpmndi": layout.BPMNDI,
    "dc": layout.DC,
    "di": layout.DI,
    "camunda": CAMUNDA,
    "xsi": XSI,
}


# -- the process ------------------------------------------------------------------------------
@attrs.define
class _Branch:
    key: str
    label: str
    condition: str | None  # None: the default branch of a choice
    rows: list[Row]


@attrs.define
class _Group:
    kind: str  # parallel | choice
    name: str
    branches: list[_Branch]

    @property
    def rows(self) -> list[Row]:
        return [r for b in self.branches for r in b.rows]


def _blocks(table: Table, found: TableProblems) -> list[Row | _Group]:
    blocks: list[Row | _Group] = []
    seen: dict[tuple[str, str], int] = {}
    for row in table.rows:
        kind, name = ("parallel", row.parallel) if row.parallel else ("choice", row.choice)
        if not name:
            blocks.append(row)
            continue
        last = blocks[-1] if blocks else None
        if not (isinstance(last, _Group) and (last.kind, last.name) == (kind, name)):
            if (kind, name) in seen:
                found.add(
                    row.row,
                    kind,
                    f"group {name!r} started at row {seen[kind, name]} and was "
                    "interrupted: keep a group's rows together",
                )
            seen[kind, name] = row.row
            last = _Group(kind, name, [])
            blocks.append(last)
        _add_to_group(last, row, found)
    for block in blocks:
        if isinstance(block, _Group):
            _check_group(block, found)
    return blocks


def _add_to_group(group: _Group, row: Row, found: TableProblems) -> None:
    cond: str | None = ""
    if group.kind == "parallel":
        key = row.branch or row.role
    else:
        cond = None if normalise(row.condition) in DEFAULT_CONDITIONS else row.condition
        key = row.branch or (cond or "")
    branch = next((b for b in group.branches if b.key == key), None)
    if branch is None:
        branch = _Branch(key, row.branch, cond, [])
        group.branches.append(branch)
    elif cond and cond != branch.condition:
        found.add(
            row.row,
            "condition",
            f"branch {key!r} has its condition on its first row "
            f"(row {branch.rows[0].row}): leave the cell empty here",
        )
    branch.rows.append(row)


def _check_group(group: _Group, found: TableProblems) -> None:
    first = group.rows[0].row
    if len(group.branches) < 2:
        found.add(
            first,
            group.kind,
            f"group {group.name!r} has one branch: a {group.kind} group needs "
            "two or more (a branch per unit role, or name them in the 'branch' column)",
        )
    if group.kind == "choice":
        defaults = [b for b in group.branches if b.condition is None]
        if len(defaults) != 1:
            found.add(
                first,
                "condition",
                f"choice group {group.name!r} needs exactly one branch "
                f"without a condition (the usual outcome, taken when no condition holds), not "
                f"{len(defaults)}",
            )


def _longest(blocks: list[Row | _Group]) -> tuple[int, list[Row]]:
    total, path = 0, []
    for block in blocks:
        if isinstance(block, Row):
            total += block.minutes
            path.append(block)
            continue
        best = max(block.branches, key=lambda b: sum(r.minutes for r in b.rows))
        total += sum(r.minutes for r in best.rows)
        path.extend(best.rows)
    return total, path


@attrs.frozen
class Built:
    """The BPMN file made from a table, and what lint warns about in it."""

    bpmn: bytes
    warnings: tuple[Problem, ...]
    table: Table


def table_bpmn(table: Table, *, name: str = "generated.bpmn") -> Built:
    """The BPMN file of ``table``, checked by lint's rules (``name`` is the file in messages);
    a TableError, naming the rows, when the steps do not make a procedure lienthong loads."""
    found = TableProblems(table.file)
    blocks = _blocks(table, found)
    found.raise_if_any(table.unit)
    total, path = _longest(blocks)
    if total > table.deadline_minutes:
        steps = " + ".join(f"row {r.row} {format_duration(r.minutes)}" for r in path if r.minutes)
        found.add(
            0,
            "time",
            f"the times along the longest path add up to {format_duration(total)} "
            f"({steps}), more than the deadline {table.header['deadline']!r}",
        )
        found.raise_if_any(table.unit)
    data, origin = _bpmn(table, blocks)
    checked = check_document(data, name)
    for p in checked.errors:
        row, column = origin.get(p.element, (0, ""))
        found.add(row, column, f"{p.message} [{p.rule}]")
    found.raise_if_any(table.unit)
    return Built(data, tuple(checked.problems), table)


def _props(el: etree._Element, values: Iterable[tuple[str, str]]) -> None:
    pairs = [(k, v) for k, v in values if v != ""]
    if not pairs:
        return
    ext = etree.SubElement(el, f"{{{BPMN}}}extensionElements")
    props = etree.SubElement(ext, f"{{{CAMUNDA}}}properties")
    for k, v in pairs:
        etree.SubElement(props, f"{{{CAMUNDA}}}property", name=f"lienthong:{k}", value=v)


def _doc(el: etree._Element, text: str) -> None:
    if text:
        etree.SubElement(el, f"{{{BPMN}}}documentation").text = text


def _bpmn(table: Table, blocks: list[Row | _Group]) -> tuple[bytes, dict[str, tuple[int, str]]]:
    """The file's bytes, and each generated element's (row, column) for messages."""
    h = table.header
    pid = slug(h.get("id") or Path(table.file).stem)
    root = etree.Element(f"{{{BPMN}}}definitions", nsmap=NSMAP)
    root.set("id", f"{pid}_definitions")
    root.set("targetNamespace", f"https://lienthong.example/bpmn/{pid}")
    root.set("exporter", "lienthong procedure new")
    collab = etree.SubElement(root, f"{{{BPMN}}}collaboration", id=f"{pid}_collaboration")
    etree.SubElement(
        collab, f"{{{BPMN}}}participant", id=f"{pid}_participant",
        name=h.get("pool") or h["name"], processRef=pid,
    )  # fmt: skip
    proc = etree.SubElement(root, f"{{{BPMN}}}process", id=pid, name=h["name"])
    proc.set("isExecutable", "true")
    _doc(proc, h.get("documentation", ""))
    deadline = SAME_DAY if table.same_day else format_duration(table.deadline_minutes)
    _props(proc, [
        ("procedure-code", h["code"]), ("procedure-name", h["name"]), ("deadline", deadline),
        ("required-documents", ";".join(
            d.strip() for d in re.split(r"[;,]", h.get("required-documents", "")) if d.strip())),
        ("fee", re.sub(r"[.,\s]|đồng|vnd", "", h.get("fee", "").lower())),
        ("legal-basis", h.get("legal-basis", "")),
        ("supplement-window", h.get("supplement-window", "")),
    ])  # fmt: skip
    lanes: dict[str, str] = {}
    for r in table.rows:
        lanes.setdefault(r.role, r.unit)
    coordinating = {c.strip() for c in re.split(r"[;,]", h.get("coordinating", "")) if c.strip()}
    origin: dict[str, tuple[int, str]] = {r.id: (r.row, "") for r in table.rows}
    places, links, flows = _grid(table, blocks, origin)
    lane_set = etree.SubElement(proc, f"{{{BPMN}}}laneSet", id=f"{pid}_lanes")
    for role, unit in lanes.items():
        lane = etree.SubElement(lane_set, f"{{{BPMN}}}lane", id=role, name=unit)
        flag = "true" if role in coordinating else ""
        _props(lane, [("unit-role", role), ("coordinating", flag)])
        for p in places:
            if p.lane == role:
                etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = p.id
    rows = {r.id: r for r in table.rows}
    outgoing: dict[str, list[str]] = {}
    incoming: dict[str, list[str]] = {}
    for f in links:
        outgoing.setdefault(f.source, []).append(f.id)
        incoming.setdefault(f.target, []).append(f.id)
    defaults = {f.source: f.id for f in links if flows[f.id] is None}
    for p in places:
        el = _node(proc, p, rows.get(p.id), defaults)
        for fid in incoming.get(p.id, []):
            etree.SubElement(el, f"{{{BPMN}}}incoming").text = fid
        for fid in outgoing.get(p.id, []):
            etree.SubElement(el, f"{{{BPMN}}}outgoing").text = fid
    for f in links:
        flow = etree.SubElement(
            proc, f"{{{BPMN}}}sequenceFlow", id=f.id, sourceRef=f.source, targetRef=f.target
        )
        if f.name:
            flow.set("name", f.name)
        if flows[f.id]:
            cond = etree.SubElement(flow, f"{{{BPMN}}}conditionExpression")
            cond.set(f"{{{XSI}}}type", "bpmn:tFormalExpression")
            cond.text = flows[f.id]
    pool = h.get("pool") or h["name"]
    diagram = layout.arrange(list(lanes.items()), places, links, pool_name=pool)
    layout.write_diagram(
        root, diagram, prefix=pid, collaboration=f"{pid}_collaboration",
        participant=f"{pid}_participant", exclusive=[p.id for p in places if p.exclusive],
    )  # fmt: skip
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data, origin


def _node(
    proc: etree._Element, p: layout.Place, row: Row | None, defaults: dict[str, str]
) -> etree._Element:
    if p.shape == "event":
        tag = "startEvent" if p.id == "submitted" else "endEvent"
        return etree.SubElement(proc, f"{{{BPMN}}}{tag}", id=p.id, name=p.name)
    if p.shape == "gateway":
        tag = "exclusiveGateway" if p.exclusive else "parallelGateway"
        el = etree.SubElement(proc, f"{{{BPMN}}}{tag}", id=p.id)
        if p.name:
            el.set("name", p.name)
        if p.id in defaults:
            el.set("default", defaults[p.id])
        return el
    assert row is not None
    tag = "serviceTask" if row.operation else "userTask"
    el = etree.SubElement(proc, f"{{{BPMN}}}{tag}", id=row.id, name=row.name)
    _doc(el, row.documentation)
    _props(el, [
        ("step-kind", "" if row.kind == "processing" else row.kind),
        ("share", format_duration(row.minutes)),
        ("required-fields", ",".join(row.fields)),
        ("operation", row.operation),
    ])  # fmt: skip
    return el


def _grid(
    table: Table, blocks: list[Row | _Group], origin: dict[str, tuple[int, str]]
) -> tuple[list[layout.Place], list[layout.Link], dict[str, str | None]]:
    """Every flow node on the layout grid, every flow, and each flow's condition (``""``
    none, None: the gateway's default)."""
    places: list[layout.Place] = []
    links: list[layout.Link] = []
    conditions: dict[str, str | None] = {}

    def entry(block: Row | _Group) -> str:
        return block.role if isinstance(block, Row) else block.branches[0].rows[0].role

    def link(source: str, target: str, name: str = "", condition: str | None = "") -> None:
        fid = f"flow_{source}_{target}"
        links.append(layout.Link(fid, source, target, name))
        conditions[fid] = condition

    h = table.header
    lane = entry(blocks[0])
    start = h.get("start") or "Hồ sơ được nộp"
    places.append(layout.Place("submitted", "event", lane, 0, name=start))
    prev, col = "submitted", 1
    for i, block in enumerate(blocks):
        if isinstance(block, Row):
            places.append(layout.Place(block.id, "task", block.role, col, name=block.name))
            link(prev, block.id)
            prev, lane, col = block.id, block.role, col + 1
            continue
        key = slug(block.name).strip("_") or str(i)
        exclusive = block.kind == "choice"
        split, join = (
            (f"choice_{key}", f"merge_{key}") if exclusive else (f"split_{key}", f"join_{key}")
        )
        places.append(
            layout.Place(split, "gateway", lane, col, name=block.name, exclusive=exclusive)
        )
        origin[split] = (block.rows[0].row, block.kind)
        link(prev, split)
        tracks: dict[tuple[str, str], int] = {}
        used: dict[str, int] = {}
        for b in block.branches:
            for r in b.rows:
                if (b.key, r.role) not in tracks:
                    tracks[b.key, r.role] = used.get(r.role, 0)
                    used[r.role] = tracks[b.key, r.role] + 1
        for b in block.branches:
            before = split
            for j, r in enumerate(b.rows):
                track = tracks[b.key, r.role]
                places.append(layout.Place(r.id, "task", r.role, col + 1 + j, track, r.name))
                if before == split:
                    label = b.label or (b.condition or "")
                    link(split, r.id, label if exclusive else "", b.condition if exclusive else "")
                    origin[f"flow_{split}_{r.id}"] = (r.row, "condition")
                else:
                    link(before, r.id)
                before = r.id
        col += 1 + max(len(b.rows) for b in block.branches)
        lane = entry(blocks[i + 1]) if i + 1 < len(blocks) else lane
        places.append(layout.Place(join, "gateway", lane, col, exclusive=exclusive))
        origin[join] = (block.rows[-1].row, block.kind)
        for b in block.branches:
            link(b.rows[-1].id, join)
        prev, col = join, col + 1
    places.append(layout.Place("done", "event", lane, col, name=h.get("end") or "Đã trả kết quả"))
    link(prev, "done")
    return places, links, conditions
