"""A loaded procedure as a designer reads it (``lienthong procedure show``).

Its steps in flow order, each with its lane, unit role, share, step kind and required fields;
and its paths from the start to an end, each with the total of its shares against the legal
deadline. A process with many gateways has exponentially many paths: they are counted in time
linear in the process's size (:func:`~lienthong.bpmn.shares.count_paths`) and only the first
``limit`` are listed, plus the heaviest (the one the deadline check is about) when it is not
among them.
"""

from __future__ import annotations

import heapq
import itertools
import textwrap
from typing import Any

import attrs
from lxml import etree

from lienthong.bpmn.procedures import Procedure
from lienthong.bpmn.properties import NS
from lienthong.bpmn.shares import (
    count_paths,
    first_paths,
    flow_graph,
    forward_graph,
    heaviest_path,
)
from lienthong.legaltime.durations import format_duration

__all__ = ["PATH_LIMIT", "PathLine", "StepLine", "Summary", "summarise"]

#: How many paths ``procedure show`` lists unless told otherwise.
PATH_LIMIT = 20
_KINDS = {"user": "user task", "service": "service task", "script": "script task"}


@attrs.frozen
class StepLine:
    number: int
    id: str
    name: str
    type: str  # user task, service task, script task, task
    lane: str
    lane_name: str
    role: str
    coordinating: bool
    share_minutes: int
    step_kind: str
    required_fields: tuple[str, ...]
    operation: str | None


@attrs.frozen
class PathLine:
    number: int | None  # its place in flow order, 1-based; None: the heaviest, listed last
    steps: tuple[str, ...]  # the steps' ids along the path (gateways and events left out)
    choices: tuple[str, ...]  # the names of the exclusive-gateway flows it takes
    total_minutes: int
    heaviest: bool


@attrs.frozen
class Summary:
    procedure: Procedure
    steps: tuple[StepLine, ...]
    paths: tuple[PathLine, ...]
    path_count: int

    @property
    def more_paths(self) -> int:
        """How many paths are not listed."""
        return self.path_count - len(self.paths)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``lienthong procedure show --format json``)."""
        p = self.procedure
        names = {s.id: s.name for s in self.steps}
        return {
            "code": p.code,
            "name": p.name,
            "version": p.version,
            "source": p.source,
            "deadline": p.deadline_text,
            "deadline_minutes": p.deadline_minutes,
            "same_day": p.same_day,
            "legal_basis": p.legal_basis,
            "required_documents": list(p.required_documents),
            "lanes": [
                {"id": ln.id, "name": ln.name, "role": ln.role, "coordinating": ln.coordinating}
                for ln in p.lanes.values()
            ],
            "steps": [
                {
                    "number": s.number,
                    "id": s.id,
                    "name": s.name,
                    "type": s.type,
                    "lane": s.lane,
                    "lane_name": s.lane_name,
                    "role": s.role,
                    "share": format_duration(s.share_minutes),
                    "share_minutes": s.share_minutes,
                    "step_kind": s.step_kind,
                    "required_fields": list(s.required_fields),
                    "operation": s.operation,
                }
                for s in self.steps
            ],
            "paths": {
                "count": self.path_count,
                "shown": [
                    {
                        "number": x.number,
                        "steps": list(x.steps),
                        "names": [names[s] for s in x.steps],
                        "choices": list(x.choices),
                        "total": format_duration(x.total_minutes),
                        "total_minutes": x.total_minutes,
                        "fits": x.total_minutes <= p.deadline_minutes,
                        "heaviest": x.heaviest,
                    }
                    for x in self.paths
                ],
                "more": self.more_paths,
            },
        }

    def as_text(self) -> str:
        p = self.procedure
        out = [f"{p.code}  {p.name}", f"  file: {p.source}   version: {p.version[:12]}"]
        basis = f"   legal basis: {p.legal_basis}" if p.legal_basis else ""
        out.append(f"  deadline: {p.deadline_text}{basis}")
        if p.required_documents:
            out.append(f"  required documents: {', '.join(p.required_documents)}")
        out += ["", f"Steps, in flow order ({len(self.steps)})"]
        for s in self.steps:
            lane = f"{s.lane_name} ({s.role}{', coordinating' if s.coordinating else ''})"
            out.append(f"  {s.number:>2}. {s.name}")
            extra = f" · operation {s.operation}" if s.operation else ""
            out.append(
                f"      {s.type} · {s.step_kind} · share {format_duration(s.share_minutes)} · "
                f"lane {lane}{extra}"
            )
            if s.required_fields:
                out.append(f"      required fields: {', '.join(s.required_fields)}")
        names = {s.id: s.name for s in self.steps}
        shares = {s.id: s.share_minutes for s in self.steps}
        out += ["", f"Paths from the start to an end ({self.path_count}), each against the "
                f"deadline {p.deadline_text}"]  # fmt: skip
        for x in self.paths:
            left = p.deadline_minutes - x.total_minutes
            verdict = f"fits, {format_duration(left)} left" if left >= 0 else (
                f"OVER by {format_duration(-left)}")  # fmt: skip
            mark = "   <- heaviest" if x.heaviest else ""
            number = f"{x.number:>2}." if x.number else "  heaviest, further on:"
            out.append(f"  {number} {format_duration(x.total_minutes)} of "
                       f"{p.deadline_text}: {verdict}{mark}")  # fmt: skip
            if x.choices:
                out.append(f"      through: {'; '.join(x.choices)}")
            chain = " -> ".join(f"{names[s]} {format_duration(shares[s])}" for s in x.steps)
            out.append(
                textwrap.fill(
                    chain or "(no steps)",
                    width=100,
                    initial_indent="      ",
                    subsequent_indent="        ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        if self.more_paths > 0:
            out.append(f"  ... and {self.more_paths} more paths, not listed")
        return "\n".join(out)


def _order(proc_el: Any, graph: dict[str, list[str]], starts: list[str]) -> list[str]:
    """The flow nodes in flow order: each after every node with a flow to it (a flow back, in
    a loop, does not count), and among those ready, the one earliest in the file."""
    position = {el.get("id"): i for i, el in enumerate(proc_el.iter(etree.Element))}
    dag = forward_graph(graph, starts)
    indegree = dict.fromkeys(dag, 0)
    for succ in dag.values():
        for n in succ:
            indegree[n] += 1
    ready = [(position.get(n, 0), n) for n in dag if indegree[n] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        out.append(node)
        for n in dag[node]:
            indegree[n] -= 1
            if indegree[n] == 0:
                heapq.heappush(ready, (position.get(n, 0), n))
    return out


def summarise(proc: Procedure, *, limit: int = PATH_LIMIT) -> Summary:
    """What ``lienthong procedure show`` prints of ``proc``: its steps and at most ``limit``
    of its paths (more when the heaviest is not among the first ones)."""
    root = etree.fromstring(proc.bpmn, parser=etree.XMLParser(resolve_entities=False))
    proc_el = root.xpath("./bpmn:process[@id=$pid]", namespaces=NS, pid=proc.process_id)[0]
    graph, starts = flow_graph(proc_el)
    shares = {sid: s.share_minutes for sid, s in proc.steps.items()}
    steps: list[StepLine] = []
    for sid in _order(proc_el, graph, starts):
        spec = proc.steps.get(sid)
        if spec is None:
            continue
        lane = proc.lanes.get(spec.lane)
        steps.append(
            StepLine(
                number=len(steps) + 1,
                id=sid,
                name=spec.name,
                type=_KINDS.get(spec.kind, "task"),
                lane=spec.lane,
                lane_name=lane.name if lane else "",
                role=spec.role,
                coordinating=bool(lane and lane.coordinating),
                share_minutes=spec.share_minutes,
                step_kind=spec.step_kind,
                required_fields=spec.required_fields,
                operation=spec.operation,
            )
        )
    choices = {
        (f.get("sourceRef"), f.get("targetRef")): f.get("name") or f.get("id")
        for f in proc_el.xpath(
            "./bpmn:sequenceFlow[@sourceRef = ../bpmn:exclusiveGateway/@id"
            " or @sourceRef = ../bpmn:inclusiveGateway/@id]",
            namespaces=NS,
        )
        if len(graph.get(f.get("sourceRef"), ())) > 1
    }
    _, heavy = heaviest_path(graph, starts, shares)
    listed: list[tuple[int | None, list[str]]] = list(
        enumerate(first_paths(graph, starts, limit), 1)
    )
    if heavy and all(nodes != heavy for _, nodes in listed):
        listed.append((None, heavy))
    paths = [
        PathLine(
            number=n,
            steps=tuple(x for x in nodes if x in proc.steps),
            choices=tuple(choices[a, b] for a, b in itertools.pairwise(nodes) if (a, b) in choices),
            total_minutes=sum(shares.get(x, 0) for x in nodes),
            heaviest=nodes == heavy,
        )
        for n, nodes in listed
    ]
    return Summary(proc, tuple(steps), tuple(paths), count_paths(graph, starts))
