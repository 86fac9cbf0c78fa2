"""Service steps: a call to another agency's system, performed by a plugin's operation.

Each ready service step runs under a savepoint of the command that made it ready: a plugin's
failure undoes that step alone, is recorded on the step and in the audit, and the officer's work
in the same command stands. A failed step waits for :meth:`ServiceSteps.retry`.
"""

from __future__ import annotations

from uuid import UUID

import sqlite_utils

from lienthong.engine.context import Context, iso
from lienthong.engine.progress import Progress
from lienthong.engine.validation import check_data
from lienthong.errors import InvalidData, LienthongError, NotAllowed, PluginError, ScriptError
from lienthong.store import tables
from lienthong.store.records import Dossier, Step
from lienthong.store.sqlite import savepoint


class ServiceSteps:
    """Runs the service steps a command opened, and retries a failed one."""

    def __init__(self, ctx: Context, progress: Progress) -> None:
        self.ctx = ctx
        self.progress = progress

    def retry(self, dossier: str, step_id: int) -> Dossier:
        """Run a failed service step again (see :meth:`lienthong.engine.Engine.retry`)."""
        ctx = self.ctx
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            step = ctx.open_step(db, d, step_id)
            if step.kind != "service":
                raise NotAllowed(f"step {step_id} ({step.name}) of {dossier} is not a service step")
            d, errors = self.run(db, d, only=step_id)
            if not errors:
                self.run(db, d)
        if errors:
            raise errors[0]
        return ctx.dossier(ctx.db, dossier)

    def run(
        self, db: sqlite_utils.Database, d: Dossier, only: int | None = None
    ) -> tuple[Dossier, list[LienthongError]]:
        """Run the dossier's ready service steps inside the current command, each under a
        savepoint. A step that failed before is left for :meth:`retry` unless it is ``only``.
        Returns the updated dossier and the failures."""
        ctx = self.ctx
        errors: list[LienthongError] = []
        tried: set[int] = set()
        while not d.is_closed:
            if only is not None:
                todo = [] if only in tried else [only]
            else:
                todo = [i for i in ctx.pending_services if i not in tried]
            if not todo:
                break
            step_id = todo[0]
            tried.add(step_id)
            step = ctx.records.step(db, step_id)
            if (
                step is None
                or step.dossier != d.code
                or step.kind != "service"
                or step.closed_at is not None
                or (only is None and step.status != "open")
            ):
                continue
            opened = len(ctx.pending_services)
            try:
                with savepoint(db):
                    d = self._perform(db, d, step)
            except (PluginError, InvalidData, ScriptError) as e:
                # The failed attempt advanced the in-memory workflow: forget it, the store has
                # the state from before the attempt, without the steps the attempt opened.
                ctx.workflows.forget(d.code)
                del ctx.pending_services[opened:]
                now = ctx.clock.now()
                tables.record_failure(db, step_id, str(e))
                step = ctx.step(db, step_id)
                ctx.audit(
                    db,
                    dossier=d.code,
                    event="service_failed",
                    at=iso(now),
                    from_unit=step.unit,
                    step_id=step_id,
                    note=str(e),
                )
                errors.append(e)
        return d, errors

    def _perform(self, db: sqlite_utils.Database, d: Dossier, step: Step) -> Dossier:
        ctx = self.ctx
        proc = ctx.procedure(d.procedure_version)
        spec = proc.steps[step.spec_id]
        wf = ctx.workflows.load(db, d)
        task = wf.get_task_from_id(UUID(step.task_id))
        result = ctx.hooks.call(
            "perform_operation",
            operation=spec.operation,
            dossier=d,
            step=step,
            data=dict(task.data),
            db=db,
            _dossier=d.code,
        )
        if result is None:
            raise PluginError(
                f"no loaded plugin performs the operation {spec.operation!r} "
                f"(step {step.id} of {d.code})"
            )
        return self.progress.finish_step(
            db, proc, d, step, None, check_data(result, f"result of {spec.operation}")
        )
