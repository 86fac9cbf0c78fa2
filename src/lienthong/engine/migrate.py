"""Moving a running dossier to another version of its procedure (chuyển hồ sơ đang giải quyết
sang phiên bản quy trình đã sửa): :meth:`lienthong.engine.Engine.migrate`.

A dossier keeps the version it was received under (DESIGN, principle 5). When that version is
wrong — a condition that fails at run time leaves every dossier before its gateway stuck — the
designer corrects the file, the engine loads it as a new version, and the leadership answerable
for the dossier (:func:`~lienthong.engine.permissions.may_migrate`) moves it there. One command,
one transaction:

1. the workflow is aligned with the new version and checked (:mod:`lienthong.bpmn.migrate`, over
   SpiffWorkflow's diff and migrate utilities): a step or element that ran, is open or waits and
   has no counterpart refuses the move, naming each; so does an open step whose lane, kind or
   step kind the new version changes (its unit, its queue, its place in the dossier's status
   would change under the officer working it);
2. the workflow takes the new version's elements; open tasks keep their ids and data; the
   workflow runs on to rest (an element the new version put before an open point runs now);
3. the step rows keep their ids, due instants, claims and history; an open step follows a task
   whose id or element id changed (``task_id``, ``spec_id``, ``name``); a step the new version
   made ready opens, with a handoff row; a lane role the dossier had none for is routed as at
   reception;
4. the dossier's ``procedure_version`` is the new one, the state is stored against it and the
   cached workflow is dropped; one audit row ``migrated`` names both versions, their files and
   the officer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import sqlite_utils
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from lienthong.bpmn import migrate as moving
from lienthong.bpmn.procedures import Procedure
from lienthong.engine import permissions
from lienthong.engine.context import Context, iso, plain_json
from lienthong.engine.progress import Progress
from lienthong.engine.services import ServiceSteps
from lienthong.engine.steps import default_unit
from lienthong.engine.workflows import advance
from lienthong.errors import MigrationRefused, UnknownProcedure
from lienthong.store import tables
from lienthong.store.records import Dossier, Step

#: The fewest leading digits of a version's hash that name it, as a short git commit id does.
MIN_PREFIX = 8


def short(version: str) -> str:
    """A version as messages show it: its first 12 digits."""
    return version[:12]


class MigrateCommands:
    """``migrate``: a running dossier onto another stored version of its procedure."""

    def __init__(self, ctx: Context, progress: Progress, services: ServiceSteps) -> None:
        self.ctx = ctx
        self.progress = progress
        self.services = services

    def migrate(self, code: str, to_version: str | None, *, officer: str) -> Dossier:
        """See :meth:`lienthong.engine.Engine.migrate`."""
        ctx = self.ctx
        with ctx.command(code) as db:
            d = ctx.open_dossier(db, code)
            open_steps = ctx.open_steps_of(db, code)
            permissions.may_migrate(
                ctx.org,
                officer,
                dossier=code,
                receiving_unit=d.receiving_unit,
                open_units=[s.unit for s in open_steps],
            )
            old = ctx.procedure(d.procedure_version)
            new = ctx.procedure(self._target(db, d, to_version))
            wf = ctx.workflows.load(db, d)
            plan = moving.plan(wf, new.spec, new.subprocess_specs)
            problems = [u.describe() for u in plan.unmapped]
            problems += self._open_step_changes(wf, plan, new, open_steps)
            if problems:
                raise MigrationRefused(
                    f"dossier {code} cannot move to version {short(new.version)} "
                    f"({new.source}) of {new.code}: " + "; ".join(problems)
                )
            moving.apply(wf, plan, new.spec, new.subprocess_specs)
            advance(wf, code, None)
            if not any(t.state == TaskState.READY for t in wf.tasks.values()):
                what = "end without its open steps" if wf.completed else "wait with no step open"
                raise MigrationRefused(
                    f"dossier {code} cannot move to version {short(new.version)} "
                    f"({new.source}): its workflow would {what} there"
                )
            d = self._set_version(db, d, new)
            retasked = self._follow(db, d, wf, new, open_steps, plan.renamed)
            now = ctx.clock.now()
            unit = ctx.org.officer(officer).unit
            new_steps = self.progress.open_new_steps(db, new, d, wf, now)
            ctx.audit(
                db,
                dossier=code,
                event="migrated",
                at=iso(now),
                from_unit=unit,
                from_officer=officer,
                note=(
                    "chuyển sang phiên bản quy trình khác (moved to another version): "
                    f"{old.source} {short(old.version)} -> {new.source} {short(new.version)}"
                ),
                data={
                    "from_version": old.version,
                    "to_version": new.version,
                    "from_file": old.source,
                    "to_file": new.source,
                    "changed": list(plan.changed),
                    "renamed": dict(plan.renamed),
                    "retasked": retasked,
                    "opened": [s.id for s in new_steps],
                },
            )
            for step in new_steps:
                self.progress.handoff_row(
                    db, d, None, step, now, giver_unit=unit, giver_officer=officer
                )
            ctx.workflows.save(db, code, wf)
            # The next command reads the state back against the new version, as a restart would.
            ctx.workflows.forget(code)
        return self.services.after_command(ctx.dossier(ctx.db, code))

    # -- the version ---------------------------------------------------------------------------
    def _target(self, db: sqlite_utils.Database, d: Dossier, to_version: str | None) -> str:
        """The stored version ``to_version`` names (the hash, or a unique prefix of at least
        :data:`MIN_PREFIX` digits; ``None``: the current one) among the dossier's procedure's."""
        versions = tables.procedure_versions(db, d.procedure_code)
        current = self.ctx.procedures.current.get(d.procedure_code, versions[-1][0])
        if to_version is None:
            version = current
        else:
            wanted = to_version.strip().lower()
            found = [v for v, _, _ in versions if v == wanted] or (
                [v for v, _, _ in versions if v.startswith(wanted)]
                if len(wanted) >= MIN_PREFIX
                else []
            )
            if len(found) > 1:
                raise UnknownProcedure(
                    f"version {to_version!r} of {d.procedure_code} is ambiguous: "
                    + ", ".join(short(v) for v in found)
                )
            if not found:
                other = tables.procedure_code(db, wanted)
                if other is not None:
                    raise MigrationRefused(
                        f"version {short(wanted)} is of procedure {other}, not of dossier "
                        f"{d.code}'s {d.procedure_code}"
                    )
                listed = ", ".join(f"{short(v)} ({source})" for v, source, _ in versions)
                raise UnknownProcedure(
                    f"no version {to_version!r} of procedure {d.procedure_code} is stored "
                    f"(stored: {listed}; a version is its file's SHA-256, or its first "
                    f"{MIN_PREFIX} or more digits)"
                )
            version = found[0]
        if version == d.procedure_version:
            source = next((s for v, s, _ in versions if v == version), "?")
            hint = (
                ", the current one: there is no other to move to (load the corrected BPMN file "
                "first)"
                if version == current
                else ""
            )
            raise MigrationRefused(
                f"dossier {d.code} already runs version {short(version)} ({source}) of "
                f"{d.procedure_code}{hint}"
            )
        return version

    def _set_version(self, db: sqlite_utils.Database, d: Dossier, new: Procedure) -> Dossier:
        """The dossier on the new version, with a unit for each lane role it adds."""
        values: dict[str, Any] = {"procedure_version": new.version}
        added = {lane.role for lane in new.lanes.values()} - d.routing.keys()
        if added:
            routing = dict(d.routing)
            for role in sorted(added):
                routing[role] = default_unit(self.ctx.org, role, d.receiving_unit)
            values["routing"] = plain_json(routing, "routing")
        tables.update_dossier(db, d.code, values)
        return self.ctx.dossier(db, d.code)

    # -- the open steps ------------------------------------------------------------------------
    @staticmethod
    def _open_step_changes(
        wf: BpmnWorkflow, plan: moving.Migration, new: Procedure, open_steps: Sequence[Step]
    ) -> list[str]:
        """What refuses the move in the open steps themselves: one whose element would not be a
        step there, or a step of another lane, kind or step kind."""
        out = []
        for step in open_steps:
            task = wf.get_task_from_id(UUID(step.task_id))
            target = plan.diff.alignment.get(task) if task is not None else None
            if target is None:
                continue  # plan() named it already
            spec = new.steps.get(target.bpmn_id)
            label = f"open step {step.id} '{step.name}' ({step.spec_id})"
            if spec is None or not spec.is_step:
                out.append(f"{label}: it is not a step in the new version")
                continue
            was = {"lane role": step.role, "kind": step.kind, "step kind": step.step_kind}
            now = {"lane role": spec.role, "kind": spec.kind, "step kind": spec.step_kind}
            moved = [f"{k} {was[k]} -> {now[k]}" for k in was if was[k] != now[k]]
            if moved:
                out.append(f"{label}: the new version changes its {', '.join(moved)}")
        return out

    def _follow(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        wf: BpmnWorkflow,
        new: Procedure,
        open_steps: Sequence[Step],
        renamed: Mapping[str, str],
    ) -> dict[str, str]:
        """Point each open step at its task in the migrated workflow, and at its element's id and
        name there. Returns step id -> new task id, for the steps whose task id changed."""
        ready = [t for t in wf.tasks.values() if t.state == TaskState.READY]
        taken = {s.task_id for s in open_steps}
        moved: dict[str, str] = {}
        for step in open_steps:
            task = wf.tasks.get(UUID(step.task_id))
            if task is None or task.state != TaskState.READY:
                element = renamed.get(step.spec_id, step.spec_id)
                task = next(
                    (t for t in ready if t.task_spec.bpmn_id == element and str(t.id) not in taken),
                    None,
                )
                if task is None:
                    raise MigrationRefused(
                        f"dossier {d.code} cannot move to version {short(new.version)}: open "
                        f"step {step.id} '{step.name}' ({step.spec_id}) has no ready task there"
                    )
                taken.add(str(task.id))
                moved[str(step.id)] = str(task.id)
            spec = new.steps[task.task_spec.bpmn_id]
            values = {
                k: v
                for k, v in (
                    ("task_id", str(task.id)),
                    ("spec_id", spec.id),
                    ("name", spec.name),
                )
                if getattr(step, k) != v
            }
            if values:
                tables.update_step(db, step.id, values)
        return moved
