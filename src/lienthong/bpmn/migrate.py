"""Moving a running workflow onto another version of its process (chuyển hồ sơ đang giải quyết
sang phiên bản quy trình đã sửa), with SpiffWorkflow's own diff and migrate utilities.

SpiffWorkflow 3.2's :mod:`SpiffWorkflow.bpmn.util.diff` does the work, as SpiffArena does when it
migrates a process instance: :func:`~SpiffWorkflow.bpmn.util.diff.diff_workflow` aligns each task
of the workflow with an element of the new version (by BPMN id first, then, for an element
whose id changed, by its place between aligned neighbours) and lists the tasks left without one;
:func:`~SpiffWorkflow.bpmn.util.diff.migrate_workflow` gives every task its new element and
predicts again what follows the READY and WAITING tasks. Task ids stay: the tasks that ran and
the open ones keep theirs, only the predicted tasks after them are made anew.

What lienthong adds around the two calls:

- :func:`plan` refuses what cannot be mapped: a task that ran, is open or waits (any state but
  a prediction) whose element the new version lacks, or draws as another kind of element (a
  user task that became a gateway); and a parallel split that already ran whose branches the
  new version draws otherwise, since its join would wait for a branch the dossier never
  started. A changed element that already ran is accepted: its work is done (its
  condition was evaluated, its step closed), and the change applies to what comes next.
  SpiffArena's example engine refuses those too; a corrected step name or share would then
  refuse every dossier past it.
- :func:`apply` keeps the open tasks' data: SpiffWorkflow's reset gives each a copy of its
  parent's data, which would lose what :meth:`~lienthong.engine.Engine.correct_data` put there.
  It drops the stored-state rows kept on the tasks (:func:`lienthong.bpmn.state.forget_rows`),
  which name the old elements, and checks that no task is left with an element of the old
  version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from lienthong.bpmn.state import default_serializer, forget_rows
from lienthong.errors import MigrationRefused

__all__ = ["Migration", "Unmapped", "apply", "plan"]

#: The states of a task that ran, runs, or waits: everything but a prediction.
_DEFINITE = TaskState.FINISHED_MASK | TaskState.READY | TaskState.STARTED | TaskState.WAITING
_STATE_WORDS = {
    TaskState.COMPLETED: "done",
    TaskState.ERROR: "failed",
    TaskState.CANCELLED: "cancelled",
    TaskState.READY: "open",
    TaskState.STARTED: "open",
    TaskState.WAITING: "waiting",
}
_registry: Any = None


def _spec_registry() -> Any:
    """The converters SpecDiff compares elements with; the state codec's own lack one for the
    standard ``bpmn:serviceTask``, so SpiffWorkflow's full serializer's are used."""
    global _registry
    if _registry is None:
        _registry = default_serializer().registry
    return _registry


@attrs.frozen
class Unmapped:
    """A task of the workflow that the new version has no place for."""

    element: str  # its BPMN id
    name: str  # the element's name as the designer wrote it ("" if it has none)
    kind: str  # "user task", "exclusive gateway", ...
    state: str  # done, open, waiting, failed, cancelled
    reason: str

    def describe(self) -> str:
        """``user task 'Thẩm định hồ sơ' (review), open: the new version has no such element``."""
        label = f"'{self.name}' ({self.element})" if self.name else self.element
        return f"{self.kind} {label}, {self.state}: {self.reason}"


@attrs.frozen
class Migration:
    """A workflow's tasks aligned with a new version's elements: what :func:`apply` needs, and
    what :func:`plan` found that refuses it."""

    diff: WorkflowDiff = attrs.field(repr=False)
    unmapped: tuple[Unmapped, ...]
    #: Old element id -> new one, for the elements of tasks that ran or are open whose id changed.
    renamed: Mapping[str, str]
    #: Ids of the elements of the workflow's tasks (done, open or predicted) that the new
    #: version changed.
    changed: tuple[str, ...]


def kind_of(spec: Any) -> str:
    """An element's kind in words: ``UserTask`` -> ``user task``."""
    words = re.findall(r"[A-Z][a-z]*", type(spec).__name__) or [type(spec).__name__]
    return " ".join(w.lower() for w in words)


def plan(wf: BpmnWorkflow, spec: Any, subprocess_specs: Mapping[str, Any]) -> Migration:
    """Align the workflow with ``spec`` (the new version's process) and list what cannot move.

    A workflow with subprocesses is refused: lienthong loads no process with one today, and its
    tasks would need the same checks in each.
    """
    diff, sub_diffs = diff_workflow(_spec_registry(), wf, spec, subprocess_specs)
    unmapped: list[Unmapped] = []
    renamed: dict[str, str] = {}
    if sub_diffs:
        raise MigrationRefused("a workflow with subprocesses cannot move to another version")
    seen: set[tuple[str, str]] = set()
    for task in wf.get_tasks(state=_DEFINITE):
        old = task.task_spec
        new = diff.alignment.get(task)
        state = _STATE_WORDS.get(task.state, TaskState.get_name(task.state).lower())
        reason = _why_not(task, old, new, diff.alignment)
        if reason is not None:
            if (old.name, state) not in seen:  # a loop's tasks share their element: once
                seen.add((old.name, state))
                unmapped.append(
                    Unmapped(
                        element=getattr(old, "bpmn_id", None) or old.name,
                        name=getattr(old, "bpmn_name", None) or "",
                        kind=kind_of(old),
                        state=state,
                        reason=reason,
                    )
                )
            continue
        assert new is not None
        if new.name != old.name:
            renamed[old.name] = new.name
    return Migration(
        diff=diff,
        unmapped=tuple(unmapped),
        renamed=renamed,
        changed=tuple(sorted({t.task_spec.name for t in diff.changed})),
    )


def _why_not(task: Any, old: Any, new: Any, alignment: Mapping[Any, Any]) -> str | None:
    """Why a task that ran, is open or waits cannot take the new element; None if it can."""
    if new is None:
        return "the new version has no such element"
    if type(new) is not type(old):
        return f"it is a {kind_of(new)} in the new version"
    if task.state == TaskState.COMPLETED and type(old).__name__ == "ParallelGateway":
        # Its branches are the tasks it started; the new version's join waits for each of
        # its own (an inclusive join waits only for branches that can still reach it).
        started = {getattr(alignment.get(c), "name", None) for c in task.children}
        if len(new.outputs) > 1 and started != {n.name for n in new.outputs}:
            return (
                "it split the dossier into branches that the new version draws otherwise, so "
                "its join would wait for a branch the dossier never started"
            )
    return None


def apply(
    wf: BpmnWorkflow, migration: Migration, spec: Any, subprocess_specs: Mapping[str, Any]
) -> None:
    """Move the workflow onto ``spec`` as :func:`plan` aligned it (which found nothing
    unmapped). The open and waiting tasks keep their ids and their data."""
    if migration.unmapped:
        raise MigrationRefused(
            "cannot move: " + "; ".join(u.describe() for u in migration.unmapped)
        )
    kept = {
        t.id: (t.data, t.internal_data)
        for t in wf.tasks.values()
        if t.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    }
    migrate_workflow(migration.diff, wf, spec)
    wf.subprocess_specs = subprocess_specs
    for task_id, (data, internal) in kept.items():
        task = wf.tasks.get(task_id)
        if task is not None:
            task.data, task.internal_data = data, internal
    forget_rows(wf)
    specs = spec.task_specs
    stale = sorted(
        {
            getattr(t.task_spec, "bpmn_id", None) or t.task_spec.name
            for t in wf.tasks.values()
            if specs.get(t.task_spec.name) is not t.task_spec
        }
    )
    if stale:  # not expected: every task of an old element was refused or predicted again
        raise MigrationRefused(
            f"cannot move: tasks of element(s) {', '.join(stale)} would keep the old version's"
        )
