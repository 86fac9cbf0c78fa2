"""Each open dossier's SpiffWorkflow workflow: loaded from the store, advanced, saved back.

The last few hundred workflows stay in memory with the revision they were saved at; a workflow
whose stored revision moved on (another engine on the same file saved it) is read again. One
saved by a transaction that then rolled back is dropped (:meth:`Workflows.rolled_back`): its
revision was never stored, and another engine may store that revision of that dossier (of that
code, even: a reception rolled back frees its code) with another workflow.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import sqlite_utils
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException

from lienthong.bpmn.procedures import Procedure
from lienthong.bpmn.state import dump_state, load_state
from lienthong.bpmn.workflow import Template, Workflow
from lienthong.engine.procedures import Procedures
from lienthong.errors import ScriptError
from lienthong.store import tables
from lienthong.store.records import Dossier

CACHE_SIZE = 256
_UNBUILT: Any = object()
#: A revision not read yet (``None`` is the revision of a dossier without a stored state).
UNREAD: Any = object()


class Workflows:
    """A cache of open dossiers' workflows, checked against the stored revision."""

    def __init__(self, procedures: Procedures, script_engine: Any) -> None:
        self.procedures = procedures
        self.script_engine = script_engine
        self._cache: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
        # Each procedure version's new workflow, to copy (None: built afresh each time).
        self._templates: dict[str, Template | None] = {}
        # The dossiers whose workflow the running transaction saved: not stored until it commits.
        self._uncommitted: set[str] = set()

    def load(self, db: sqlite_utils.Database, d: Dossier, rev: Any = UNREAD) -> BpmnWorkflow:
        """The dossier's workflow as the store has it now; ``rev``: its stored revision, if the
        caller has just read it in the same transaction."""
        if rev is UNREAD:
            rev = tables.state_rev(db, d.code)
        cached = self._cache.get(d.code)
        if cached is not None and rev is not None and cached[0] == rev:
            self._cache.move_to_end(d.code)
            return cached[1]
        blob = tables.load_state(db, d.code)
        proc = self.procedures.get(d.procedure_version)
        return load_state(blob, proc.spec, proc.subprocess_specs, self.script_engine)

    def cached(self, code: str) -> tuple[int, BpmnWorkflow] | None:
        """The dossier's workflow this engine saved last, and the revision it saved it at (it
        may have advanced in memory since, within the command running now)."""
        return self._cache.get(code)

    def save(self, db: sqlite_utils.Database, code: str, wf: BpmnWorkflow) -> None:
        """Store the workflow's state (a new revision) and keep it while it is open."""
        rev = tables.save_state(db, code, dump_state(wf, dossier=code))
        self._uncommitted.add(code)
        if wf.completed:
            # No command runs a finished workflow again: the cache is for the open ones.
            self._cache.pop(code, None)
            return
        self._cache[code] = (rev, wf)
        self._cache.move_to_end(code)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def new(self, proc: Procedure) -> Workflow:
        """A new workflow of the procedure, not yet started."""
        template = self._templates.get(proc.version, _UNBUILT)
        if template is _UNBUILT or (template is not None and template.spec is not proc.spec):
            try:
                template = Template(proc.spec, proc.subprocess_specs)
            except ValueError:
                template = None
            self._templates[proc.version] = template
        if template is None:
            return Workflow(proc.spec, proc.subprocess_specs, script_engine=self.script_engine)
        return template.new(self.script_engine)

    def forget(self, code: str) -> None:
        """Drop a workflow that advanced in memory past what the store keeps."""
        self._cache.pop(code, None)

    def committed(self) -> None:
        """The transaction that saved workflows committed: the store keeps them."""
        self._uncommitted.clear()

    def rolled_back(self) -> None:
        """The transaction (or a savepoint in it) rolled back: drop every workflow it saved."""
        for code in self._uncommitted:
            self._cache.pop(code, None)
        self._uncommitted.clear()

    def clear(self) -> None:
        self._cache.clear()


def advance(wf: BpmnWorkflow, code: str, task: Any) -> None:
    """Run a task (if given) and then the engine steps it made ready; a failure inside
    SpiffWorkflow (a script, a condition) becomes a :class:`ScriptError` naming the element."""
    try:
        if task is not None and task.run() is None:
            # A standard service task's spec has nothing to execute (lienthong's plugin
            # already did the work), so SpiffWorkflow leaves it STARTED: finish it.
            task.complete()
        wf.do_engine_steps()
    except SpiffWorkflowException as e:
        name = getattr(getattr(e, "task_spec", None), "bpmn_id", None) or getattr(
            getattr(getattr(e, "task", None), "task_spec", None), "bpmn_id", "?"
        )
        detail = str(e)
        inner = getattr(e, "error", None) or e.__cause__
        if inner is not None and str(inner) not in detail:
            detail += f": {inner}"
        raise ScriptError(f"dossier {code}: element {name!r}: {detail}") from None
