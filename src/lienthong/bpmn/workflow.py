"""SpiffWorkflow's BpmnWorkflow, with its per-step tree walks made cheaper.

After every completed task SpiffWorkflow walks the whole task tree several times: to update the
WAITING tasks (``update_waiting_tasks``), once per pass of ``do_engine_steps`` to find READY engine
tasks, and once in each parallel gateway to find its instances. A dossier's tree holds every task
it ever ran, so the walks grow with the dossier, and through SpiffWorkflow's generic iterator they
cost as much as the rest of the step. Two cheaper ways give the same answers:

- ``get_tasks`` with only ``state``, ``spec_name`` or ``manual`` walks the tree in a plain loop,
  in the same depth-first order and with the same rule for which branches to enter;
- a workflow also keeps a flat dict of its tasks: one scan of it tells how many tasks are WAITING,
  or READY and not manual.

The flat scan is used only where the outcome is provably SpiffWorkflow's own:

- no matching task: the walk would do nothing;
- exactly one: the walk would visit that task alone, so it is handled directly;
- two or more: the order would matter, and the flat dict is in creation order, not the tree's
  depth-first order, so SpiffWorkflow's own method runs.

A workflow with subprocesses always takes SpiffWorkflow's path (lienthong refuses them at load
today, and its LT1 state layout exists for them).

The workflow's tasks are SpiffWorkflow's ``Task`` with one method changed (:class:`Task`): a state
change formats its log record (two dicts for the state's name, the task's details) only when the
``spiff.task`` logger will write it. SpiffWorkflow formats it every time, and with logging off that
was a fourteenth of a handoff. The records written are the same.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

_WAITING = TaskState.WAITING
_READY = TaskState.READY
_ANY = TaskState.ANY_MASK
_PLAIN_FILTERS = frozenset({"state", "spec_name", "manual"})
# SpiffWorkflow's iterator stops descending at depth 1000; a tree with fewer tasks cannot reach it.
_MAX_TASKS = 1000


_task_logger = logging.getLogger("spiff.task")  # SpiffWorkflow's own


class Task(SpiffTask):
    """SpiffWorkflow's Task, building a state change's log record only if it is to be written."""

    def _set_state(self, value: int) -> None:
        # SpiffWorkflow's method, with the logger's own test moved before the arguments.
        if value != self.state:
            elapsed = time.time() - self.last_state_change  # type: ignore[has-type]
            self.last_state_change = time.time()
            self._state = value
            if _task_logger.isEnabledFor(logging.INFO):
                _task_logger.info(
                    f"State changed to {TaskState.get_name(value)}",
                    extra=self.collect_log_extras({"elapsed": elapsed}),
                )
        elif _task_logger.isEnabledFor(logging.DEBUG):
            _task_logger.debug(
                f"State set to {TaskState.get_name(value)}", extra=self.collect_log_extras()
            )


class _Tasks(dict[Any, Any]):
    """A workflow's task dict: SpiffWorkflow adds every task it creates to it, which is where a
    task becomes a :class:`Task` (the class is swapped; the object and its fields stay)."""

    def __init__(self, tasks: dict[Any, Any] | None = None) -> None:
        super().__init__()
        for key, task in (tasks or {}).items():
            self[key] = task

    def __setitem__(self, key: Any, task: Any) -> None:
        if type(task) is SpiffTask:
            task.__class__ = Task
        super().__setitem__(key, task)


class Workflow(BpmnWorkflow):
    """A BpmnWorkflow that finds its waiting and ready tasks without walking the tree."""

    def __setattr__(self, name: str, value: Any) -> None:
        # SpiffWorkflow (and the state loaders) assign a plain dict to ``tasks``, then add tasks.
        if name == "tasks" and type(value) is dict:
            value = _Tasks(value)
        super().__setattr__(name, value)

    def get_tasks(self, first_task: Any = None, **kwargs: Any) -> list[Any]:
        tasks = self.tasks
        if (
            first_task is not None
            or self.subprocesses
            or len(tasks) >= _MAX_TASKS
            or not kwargs.keys() <= _PLAIN_FILTERS
        ):
            return super().get_tasks(first_task, **kwargs)
        state = kwargs.get("state", _ANY)
        spec_name = kwargs.get("spec_name")
        manual = kwargs.get("manual")
        # The same rule as SpiffWorkflow's TaskIterator: predicted tasks follow definite ones and
        # definite ones follow finished ones, so some branches cannot hold what is looked for.
        if state & TaskState.PREDICTED_MASK:
            min_state = TaskState.MAYBE
        elif state & TaskState.DEFINITE_MASK:
            min_state = TaskState.FUTURE
        else:
            min_state = TaskState.COMPLETED
        order, ends = self._preorder()
        out = []
        i, n = 0, len(order)
        while i < n:
            task = order[i]
            if (
                task._state & state
                and (spec_name is None or task.task_spec.name == spec_name)
                and (manual is None or task.task_spec.manual == manual)
            ):
                out.append(task)
            # Descend only where SpiffWorkflow would; otherwise skip the task's whole subtree.
            i = i + 1 if task._state >= min_state else ends[i]
        return out

    def _preorder(self) -> tuple[list[Any], list[int]]:
        """The tree in depth-first order, and where each task's subtree ends in that list.

        Kept on the workflow until a task is added or removed, which SpiffWorkflow does only by
        creating a task (a new id, last in ``self.tasks``) or removing one (one fewer): the
        number of tasks and the last id tell whether the tree is still the one walked. A tree
        keeps its shape for most of a dossier's steps (tasks are predicted ahead), so most
        queries read the list instead of walking the tree.
        """
        tasks = self.tasks
        last = next(reversed(tasks))
        cached = self.__dict__.get("_lienthong_preorder")
        if (
            cached is not None
            and cached[0] == len(tasks)
            and cached[1] is last
            and cached[2] is self.task_tree
        ):
            return cached[3], cached[4]
        order: list[Any] = []
        ends: list[int] = []
        stack: list[Any] = [self.task_tree]
        while stack:
            item = stack.pop()
            if type(item) is int:  # every task below the one at this index has been listed
                ends[item] = len(order)
                continue
            stack.append(len(order))
            order.append(item)
            ends.append(0)
            if item._children:
                stack.extend(tasks[c] for c in reversed(item._children))
        self.__dict__["_lienthong_preorder"] = (len(tasks), last, self.task_tree, order, ends)
        return order, ends

    def update_waiting_tasks(self) -> None:
        if self.subprocesses:
            return super().update_waiting_tasks()
        waiting = [t for t in self.tasks.values() if t._state == _WAITING]
        if len(waiting) > 1:
            return super().update_waiting_tasks()
        for task in waiting:
            task.task_spec._update(task)
        return None

    def _do_engine_steps(
        self, will_complete_task: Any = None, did_complete_task: Any = None
    ) -> bool:
        if self.subprocesses or will_complete_task is not None or did_complete_task is not None:
            return super()._do_engine_steps(will_complete_task, did_complete_task)
        ready = [t for t in self.tasks.values() if t._state == _READY and not t.task_spec.manual]
        if len(ready) > 1:
            return super()._do_engine_steps()
        for task in ready:
            task.run()
        # SpiffWorkflow's pass also counts subprocesses created by the tasks it ran.
        return bool(ready) or bool(self.subprocesses)
