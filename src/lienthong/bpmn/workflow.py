"""SpiffWorkflow's BpmnWorkflow, with its per-step tree walks made cheaper.

After every completed task SpiffWorkflow walks the whole task tree several times: to update the
WAITING tasks (``update_waiting_tasks``), once per pass of ``do_engine_steps`` to find READY engine
tasks, and once in each parallel gateway to find its instances. A dossier's tree holds every task
it ever ran, so the walks grow with the dossier, and through SpiffWorkflow's generic iterator they
cost as much as the rest of the step. Two cheaper ways give the same answers:

- ``get_tasks`` with only ``state``, ``spec_name`` or ``manual`` (from the root or from a task of
  the workflow) walks the tree in a plain loop, in the same depth-first order and with the same
  rule for which branches to enter;
- a workflow also keeps a flat dict of its tasks: one scan of it tells how many tasks are WAITING,
  or READY and not manual.

The flat scan is used only where the outcome is provably SpiffWorkflow's own:

- no matching task: the walk would do nothing;
- exactly one: the walk would visit that task alone, so it is handled directly;
- two or more: the order would matter, and the flat dict is in creation order, not the tree's
  depth-first order, so SpiffWorkflow's own method runs.

A workflow with subprocesses always takes SpiffWorkflow's path (lienthong refuses them at load
today, and its LT1 state layout exists for them).

The workflow's tasks are SpiffWorkflow's ``Task`` with four methods changed (:class:`Task`):
``_add_child`` takes the new task's id from a batch drawn ahead (:func:`new_ids`),
``is_descendant_of`` walks up the parents in a loop rather than by recursion, ``_inherit_data``
skips SpiffWorkflow's generic merge when there is nothing to merge or nothing to merge into,
and a state change formats its log record (two dicts for the state's name, the task's details)
only when the ``spiff.task`` logger will write it. SpiffWorkflow formats it every time, and with
logging off that was a fourteenth of a handoff. The records written are the same. The
workflow's own records (initialised, completed, cancelled) likewise gather their details, which
walk the whole tree, only when the ``spiff.workflow`` logger will write them.

A new dossier's workflow is a copy of a :class:`Template`, the procedure's workflow as
``BpmnWorkflow.__init__`` leaves it (the tree predicted from the start event), built once: building
it afresh, predicting every branch again, cost a tenth of a dossier's commands.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

_WAITING = TaskState.WAITING
_READY = TaskState.READY
_ANY = TaskState.ANY_MASK
_PLAIN_FILTERS = frozenset({"state", "spec_name", "manual"})
# SpiffWorkflow's iterator stops descending at depth 1000; a tree with fewer tasks cannot reach it.
_MAX_TASKS = 1000


_task_logger = logging.getLogger("spiff.task")  # SpiffWorkflow's own
_workflow_logger = logging.getLogger("spiff.workflow")


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

    def _add_child(self, task_spec: Any, state: int = TaskState.MAYBE) -> Any:
        # SpiffWorkflow's, with the new task's id from new_ids() (its Task draws uuid4()).
        if self.has_state(TaskState.PREDICTED_MASK) and state & TaskState.PREDICTED_MASK == 0:
            raise WorkflowException(
                "Attempt to add non-predicted child to predicted task", task_spec=self.task_spec
            )
        task = Task(self.workflow, task_spec, self, state=state, id=new_ids(1)[0])
        task.thread_id = self.thread_id
        if state == TaskState.READY:
            task._ready()
        return task

    def is_descendant_of(self, task: Any) -> bool:
        # SpiffWorkflow's, as a loop: it recurses through the parents, looking each one up in
        # the task dict twice; a parallel gateway asks it of every instance at each update.
        tasks = self.workflow.tasks
        parent = tasks.get(self._parent)
        while parent is not None:
            if parent == task:
                return True
            parent = tasks.get(parent._parent)
        return False

    def _inherit_data(self) -> None:
        # SpiffWorkflow's DeepMerge.merge(self.data, parent.data), with its two common cases
        # short: data equal to the parent's (nothing to merge) and none yet (a copy of the
        # parent's top level, the lists, dicts and sets in it copied one level, as merge does).
        data = self.data
        parent = self.workflow.tasks.get(self._parent)
        pdata = parent.data if parent is not None else None
        if type(data) is not dict or type(pdata) is not dict:
            super()._inherit_data()
        elif not data:
            for key, value in pdata.items():
                data[key] = copy.copy(value) if isinstance(value, _MUTABLE) else value
        elif data != pdata:
            super()._inherit_data()


_MUTABLE = (dict, list, set)


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

    def collect_log_extras(self, dct: dict[str, Any] | None = None) -> dict[str, Any]:
        # SpiffWorkflow calls this for its INFO records (initialised, completed, cancelled), as
        # the argument of logger.info: with the logger off, the details (a walk of the whole
        # tree, the list of every task id) would be thrown away unread.
        if _workflow_logger.isEnabledFor(logging.INFO):
            extra: dict[str, Any] = super().collect_log_extras(dct)
            return extra
        return dct or {}

    def get_tasks(self, first_task: Any = None, **kwargs: Any) -> list[Any]:
        tasks = self.tasks
        if (
            self.subprocesses
            or len(tasks) >= _MAX_TASKS
            or not kwargs.keys() <= _PLAIN_FILTERS
            or (
                first_task is not None
                and tasks.get(getattr(first_task, "id", None)) is not first_task
            )
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
        if first_task is None:
            i, n = 0, len(order)
        else:
            # A task's subtree is the stretch of the depth-first list from it to its end.
            i = order.index(first_task)
            n = ends[i]
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


class Template:
    """A procedure's new workflow, built once by ``Workflow.__init__``; :meth:`new` copies it.

    The copy is what ``Workflow(spec, subprocess_specs, script_engine=...)`` would build: the same
    tasks (specs, states, parents and children in the same order, data, internal data, thread
    ids) in the same creation order, with new random ids (``uuid4``'s, from one read of the OS's
    random source) and state-change times moved to the moment of the copy, keeping their order
    and spacing: SpiffWorkflow orders the data merges at a join by those times.
    """

    def __init__(self, spec: Any, subprocess_specs: Any) -> None:
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        wf = Workflow(spec, subprocess_specs)
        self.built_at = time.time()
        self._workflow = wf
        self._tasks = list(wf.tasks.values())
        index = {t.id: i for i, t in enumerate(self._tasks)}
        self._root = index[wf.task_tree.id]
        self._last = index[wf.last_task.id] if wf.last_task is not None else None
        # A task's own attributes beyond those the copy sets: SpiffWorkflow's, none of
        # lienthong's caches (the rows of the stored state).
        self._plan = [
            (
                t._state,
                t.triggered,
                t.task_spec,
                t.thread_id,
                index[t._parent] if t._parent is not None else None,
                [index[c] for c in t._children],
                t.data,
                t.internal_data,
                t.last_state_change,
            )
            for t in self._tasks
        ]
        fields = {k for t in self._tasks for k in t.__dict__ if not k.startswith("_lienthong")}
        if fields != _TASK_FIELDS:
            # A SpiffWorkflow whose tasks hold more than this copies: build them afresh.
            raise ValueError(f"tasks with the attributes {sorted(fields ^ _TASK_FIELDS)}")
        if (
            wf.subprocesses
            or wf.bpmn_events
            or wf.correlations
            or wf.locks
            or any(t._state == _WAITING for t in self._tasks)
        ):
            # A waiting task would be registered with the workflow's event manager: such a
            # procedure's workflows are built afresh.
            raise ValueError("a new workflow with subprocesses or events cannot be a template")

    def new(self, script_engine: Any = None) -> Workflow:
        """A new workflow, as ``Workflow(spec, subprocess_specs, script_engine=...)`` builds it."""
        src = self._workflow
        wf = Workflow(
            self.spec, self.subprocess_specs, script_engine=script_engine, deserializing=True
        )
        ids = new_ids(len(self._plan))
        shift = time.time() - self.built_at
        tasks = _Tasks()
        put = dict.__setitem__
        made = []
        for plan, tid in zip(self._plan, ids, strict=True):
            state, triggered, spec, thread, parent, children, data, internal, changed = plan
            task = _new_task(Task)
            # Task.__init__'s attributes, in its order.
            task.__dict__ = {
                "id": tid,
                "workflow": wf,
                "_parent": ids[parent] if parent is not None else None,
                "_children": [ids[c] for c in children],
                "_state": state,
                "triggered": triggered,
                "task_spec": spec,
                "thread_id": thread,
                "data": copy.deepcopy(data) if data else {},
                "internal_data": copy.deepcopy(internal) if internal else {},
                "last_state_change": changed + shift,
            }
            put(tasks, tid, task)
            made.append(task)
        wf.tasks = tasks
        wf.task_tree = made[self._root]
        wf.last_task = made[self._last] if self._last is not None else None
        wf.data = copy.deepcopy(src.data)
        wf.success = src.success
        wf.completed = src.completed
        return wf


_new_task = object.__new__
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
#: Task ids drawn ahead, a batch at a time (one read of the OS's random source, instead of one
#: for each uuid4()); a forked process starts without them, so that it never repeats its parent's.
_IDS: list[UUID] = []
_ID_BATCH = 64
os.register_at_fork(after_in_child=_IDS.clear)


def new_ids(n: int) -> list[UUID]:
    """``n`` new task ids: uuid4()'s kind, 122 random bits from the OS, the version and variant
    bits set as it sets them."""
    out: list[UUID] = []
    while len(out) < n:
        try:
            # One pop at a time: each is atomic, so two threads never take one id.
            out.append(_IDS.pop())
        except IndexError:
            raw = os.urandom(16 * max(_ID_BATCH, n - len(out)))
            _IDS.extend(
                UUID(int=int.from_bytes(raw[i : i + 16], "big") & _UUID4_CLEAR | _UUID4_SET)
                for i in range(0, len(raw), 16)
            )
    return out


#: The attributes Task.__init__ gives a task (SpiffWorkflow 3.2), which :meth:`Template.new` sets.
_TASK_FIELDS = frozenset(
    {
        "id",
        "workflow",
        "_parent",
        "_children",
        "_state",
        "triggered",
        "task_spec",
        "thread_id",
        "data",
        "internal_data",
        "last_state_change",
    }
)
