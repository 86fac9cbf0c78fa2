"""What a service step's operation is called with: the step, the dossier, the task's data, and
the revision of the workflow state they were read at (checked again when the result is recorded,
:mod:`~lienthong.engine.services`).

They are read with no write lock held and no transaction left open for the call: either at the
end of the transaction that opened the step, when the engine runs it right after that commit
(:func:`prepare`; nothing is read again between the commit and the call), or in one read
transaction that ends before the call (:func:`read`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from lienthong.engine.context import Context
from lienthong.errors import LienthongError
from lienthong.store import tables
from lienthong.store.records import Dossier, Step


@attrs.frozen
class Inputs:
    """What one call of a step's operation is made with, and the workflow state it was read
    from (its stored revision, checked again when the result is recorded)."""

    step: Step
    dossier: Dossier
    operation: str
    rev: int | None
    data: Any = attrs.field(eq=False)
    workflow: Any = attrs.field(eq=False)
    #: Why the call cannot be made (the task is not in the workflow).
    error: LienthongError | None = None


#: By step id, what the calls of the steps a transaction opened need (:func:`prepare`).
Prepared = dict[int, Inputs]


def copy_data(value: Any) -> Any:
    """A copy of plain data (what the workflow holds): faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_data(v) for v in value]
    return value


def prepare(ctx: Context, db: Any, code: str, worker: str) -> Prepared:
    """At the end of a transaction that opened service steps of the dossier ``code``
    (``ctx.pending_services``), which ``worker`` holds and is to run once it commits: what their
    calls need, read while the transaction holds it. To be used once the transaction has
    committed, and only then (the caller hands it on after its ``with`` block)."""
    out: Prepared = {}
    cached = ctx.workflows.cached(code)
    if cached is None or not ctx.pending_services:
        return out
    rev, wf = cached
    d = ctx.dossier(db, code)
    for step_id in ctx.pending_services:
        step = ctx.records.step(db, step_id)
        if step is None or step.dossier != code or step.leased_by != worker:
            continue
        task = wf.get_task_from_id(UUID(step.task_id))
        if task is not None:
            operation = ctx.procedure(d.procedure_version).steps[step.spec_id].operation
            # A copy: an abandoned call must not share dicts with the cached workflow.
            out[step_id] = Inputs(step, d, operation or "", rev, copy_data(task.data), wf)
    return out


def still_current(ctx: Context, inputs: Inputs) -> bool:
    """Whether prepared inputs still hold: this engine has saved nothing of the dossier since
    (another engine's change is caught when the result is recorded, as for any read)."""
    cached = ctx.workflows.cached(inputs.dossier.code)
    return cached is not None and cached[0] == inputs.rev and cached[1] is inputs.workflow


def read(ctx: Context, step_id: int, worker: str) -> Inputs | tuple[str, str | None]:
    """What the call needs, read in one read transaction (the step, the dossier and its
    workflow as one commit left them), which ends before the call; or, if the call is not
    ``worker``'s to make (the step is closed, or someone else holds it), the dossier's code and
    who holds it."""
    with ctx.store.reading() as db:
        step = ctx.records.step(db, step_id)
        if step is None or step.kind != "service" or not step.is_open:
            return (step.dossier if step else "", None)
        if step.leased_by != worker:
            return (step.dossier, step.leased_by)
        d = ctx.dossier(db, step.dossier)
        operation = ctx.procedure(d.procedure_version).steps[step.spec_id].operation or ""
        rev = tables.state_rev(db, d.code)
        try:
            wf = ctx.workflows.load(db, d, rev)
            task = wf.get_task_from_id(UUID(step.task_id))
            if task is None:
                raise LienthongError(f"step {step.id} of {d.code} is not in its workflow")
        except LienthongError as e:
            return Inputs(step, d, operation, rev, None, None, e)
        return Inputs(step, d, operation, rev, copy_data(task.data), wf)
