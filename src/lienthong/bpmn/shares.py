"""Every path from a start to an end must fit its steps' shares within the legal deadline.

Parallel branches are separate paths, so a split into two 2-day branches after a 1-day step
needs 3 days, not 5. A loop counts once: a path never goes back to a node it has passed.
:func:`count_paths` and :func:`first_paths` count and list the same paths, for showing them
(``lienthong procedure show``) without walking all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.bpmn.problems import Findings, describe, label
from lienthong.bpmn.properties import NS
from lienthong.legaltime.durations import format_duration


def check_shares(
    found: Findings,
    proc: Any,
    shares: Mapping[str, int],
    names: Mapping[str, str],
    deadline: int,
    deadline_text: str,
) -> None:
    """Report the heaviest path of ``proc`` if its shares (step id -> minutes) add up to more
    than ``deadline`` minutes, naming its steps by the names the designer gave them."""
    graph, starts = flow_graph(proc)
    total, path = heaviest_path(graph, starts, shares)
    if total <= deadline:
        return
    steps = [p for p in path if shares.get(p)]
    shown = " + ".join(
        f"{label(names.get(p, '')) or p} {format_duration(shares[p])}" for p in steps
    )
    found.add(
        "share-over-deadline",
        proc,
        f"{describe(proc)}: the shares along the path {' -> '.join(path)} add up to "
        f"{format_duration(total)} ({shown or '?'}), more than the legal deadline {deadline_text}",
        fix="shorten the shares (lienthong:share) of these steps, or check lienthong:deadline",
    )


def heaviest_path(
    graph: Mapping[str, list[str]], starts: list[str], weight: Mapping[str, int]
) -> tuple[int, list[str]]:
    """The path from a start, never back to a node it has passed, with the greatest total weight.

    Enumerating the paths would take time exponential in the number of gateways, so this is a
    longest-path computation over the graph less the back edges of one depth-first search
    (:func:`forward_graph`, the same one that counts and lists the paths), in
    time linear in its size and without recursion (a chain of tasks is as deep as it is long).

    When every loop is entered through a single node (what a flow drawn back to an earlier step
    gives), that node lies on every path to the back edge, so no path could take that edge
    anyway: the answer is exactly the heaviest of all the paths, and of the equally heavy ones
    the first in flow order, as a walk through all of them would find. A loop entered at two
    places is counted along the paths this search keeps, which can miss a heavier one; finding
    that one is NP-hard. Returns ``(-1, [])`` without starts.
    """
    best: dict[str, int] = {}  # a node: the heaviest total from it to an end
    then: dict[str, str | None] = {}  # ... and the successor that total goes through
    # forward_graph finishes a node after all its successors: its keys are in that order.
    for node, succ in forward_graph(graph, starts).items():
        # The first heaviest wins ties, as a walk in flow order would meet it first.
        pick: str | None = None
        for n in succ:
            if pick is None or best[n] > best[pick]:
                pick = n
        best[node] = weight.get(node, 0) + (best[pick] if pick is not None else 0)
        then[node] = pick
    first = None
    for start in starts:
        if first is None or best[start] > best[first]:
            first = start
    if first is None:
        return -1, []
    path: list[str] = []
    at: str | None = first
    while at is not None:
        path.append(at)
        at = then[at]
    return best[first], path


def flow_graph(proc: Any) -> tuple[dict[str, list[str]], list[str]]:
    """The sequence flows of a ``bpmn:process`` element, source id -> target ids in document
    order, and its start events' ids."""
    graph: dict[str, list[str]] = {}
    for f in proc.xpath(".//bpmn:sequenceFlow", namespaces=NS):
        graph.setdefault(f.get("sourceRef"), []).append(f.get("targetRef"))
    starts = [e.get("id") for e in proc.xpath("./bpmn:startEvent", namespaces=NS)]
    return graph, starts


def forward_graph(graph: Mapping[str, list[str]], starts: list[str]) -> dict[str, list[str]]:
    """``graph`` less the back edges of the depth-first search :func:`heaviest_path` makes (in
    the same order, so the two agree on which paths there are)."""
    done: set[str] = set()
    open_: set[str] = set()
    out: dict[str, list[str]] = {}
    for start in starts:
        if start in done:
            continue
        open_.add(start)
        stack = [(start, iter(graph.get(start, ())))]
        while stack:
            node, todo = stack[-1]
            for n in todo:
                if n not in done and n not in open_:
                    open_.add(n)
                    stack.append((n, iter(graph.get(n, ()))))
                    break
            else:
                stack.pop()
                out[node] = [n for n in graph.get(node, ()) if n not in open_]
                open_.discard(node)
                done.add(node)
    return out


def count_paths(graph: Mapping[str, list[str]], starts: list[str]) -> int:
    """How many paths :func:`heaviest_path` chooses among, from every start to an end; a loop
    counts once. In time linear in the graph's size, however many paths there are."""
    dag = forward_graph(graph, starts)
    ways: dict[str, int] = {}
    # forward_graph finishes a node after all its successors: its keys are in that order.
    for node, succ in dag.items():
        ways[node] = sum(ways[n] for n in succ) if succ else 1
    return sum(ways[s] for s in dict.fromkeys(starts))


def first_paths(graph: Mapping[str, list[str]], starts: list[str], limit: int) -> list[list[str]]:
    """The first ``limit`` of those paths in flow order (each start's, its first flow's first),
    without walking the others: at most ``limit`` times a path's length of work."""
    dag = forward_graph(graph, starts)
    out: list[list[str]] = []
    for start in dict.fromkeys(starts):
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack and len(out) < limit:
            node, depth = stack.pop()
            del path[depth:]
            path.append(node)
            succ = dag.get(node, [])
            if not succ:
                out.append(list(path))
                continue
            stack.extend((n, depth + 1) for n in reversed(succ))
    return out[:limit]
