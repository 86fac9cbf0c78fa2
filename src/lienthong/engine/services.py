"""Service steps: a call to another agency's system, performed by a plugin's operation, outside
the transaction of the command that made the step ready.

1. The command that opens a service step commits it, due now (``next_attempt_at``) and, when
   this engine is to run it right away, held by this engine (a lease).
2. The operation runs with no transaction open and no lock held (:mod:`~.calls`), within its
   timeout, on a copy of the task's data as the dossier's workflow state stood at a revision.
   When the engine runs the step right after the commit that opened it, what the call needs
   (the step, the dossier, the revision, the data) was read at the end of that transaction
   (:meth:`ServiceSteps.prepare`), and is used unless this engine has saved the dossier's
   workflow since; otherwise it is read in one read transaction that ends before the call.
3. Its result is recorded in a short transaction that checks that the step is still open and
   held by this engine and that the workflow state is still at that revision; the dossier
   moves on (:meth:`Progress.finish_step`) in the same transaction. If the dossier changed
   meanwhile, the result is discarded (audit ``service_result_discarded``) and the step runs
   again with the new data; what the operation wrote to ``db`` goes with it.
4. A failure (the plugin raised, the call timed out, the result is not plain data, a hook
   raised while the dossier moved on) undoes the attempt, counts it on the step (``failed``,
   ``attempts``, ``last_error``), writes a ``service_failed`` audit row and sets when the step
   runs again: after ``backoff`` seconds, doubling, until ``attempts`` are spent; then only
   :meth:`ServiceSteps.retry` or :meth:`ServiceSteps.correct_data` runs it. The officer's
   command stays committed and returns normally.

Who runs a step: with ``mode="inline"`` (the default) the engine runs the service steps a
command opened right after that command commits, so that ``receive()`` and ``complete()``
return the dossier moved on; with ``mode="worker"`` only a worker does
(:class:`~lienthong.engine.worker.Worker`, ``lienthong work``), which also runs what falls due
for a retry in either mode, and takes over a step whose runner died once its lease runs out.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import attrs
from SpiffWorkflow.util.task import TaskState

from lienthong.engine import inputs
from lienthong.engine.calls import Attempt, Calls
from lienthong.engine.context import Context, iso
from lienthong.engine.inputs import Inputs, Prepared
from lienthong.engine.progress import Progress
from lienthong.engine.validation import check_data
from lienthong.errors import InvalidData, LienthongError, NotAllowed, PluginError, StoreError
from lienthong.org import Organisation
from lienthong.store import jobs, tables
from lienthong.store.due import PAUSED
from lienthong.store.records import Dossier, Step

MODES = ("inline", "worker")
#: Seconds an operation may take, unless the Engine's ``service_timeouts`` names it.
TIMEOUT = 30.0
#: Attempts of a service step before only a person can start it again.
ATTEMPTS = 8
#: Seconds before the first retry; each next wait doubles, up to :data:`MAX_BACKOFF`.
BACKOFF = 60.0
MAX_BACKOFF = 3600.0
#: A lease lasts the longest timeout and this much more: a runner past it has died.
LEASE_MARGIN = timedelta(seconds=60)
#: Times the engine runs a step again at once when its result was discarded because the
#: dossier changed meanwhile, before leaving it to a worker.
RERUNS = 2


@attrs.frozen
class ServiceOutcome:
    """What one run of a service step came to: ``done`` (the dossier moved on), ``failed``
    (``error``; ``next_attempt_at`` is the retry, ``None`` if none is automatic),
    ``discarded`` (the dossier changed while the operation ran: ``error`` says how) or
    ``skipped`` (closed, or someone else holds it)."""

    dossier: str
    step_id: int
    outcome: str
    error: str | None = None
    next_attempt_at: datetime | None = None
    exception: BaseException | None = attrs.field(default=None, eq=False, repr=False)


def stamp(t: datetime) -> str:
    """An instant as the store keeps it (never ``None``)."""
    text = iso(t)
    assert text is not None
    return text


class _Discarded(Exception):
    def __init__(self, reason: str, rerun: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rerun = rerun


class ServiceSteps:
    """Runs service steps outside the commands' transactions; retries; corrects data."""

    def __init__(
        self,
        ctx: Context,
        progress: Progress,
        *,
        mode: str = "inline",
        timeout: float = TIMEOUT,
        timeouts: Mapping[str, float] | None = None,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
    ) -> None:
        if mode not in MODES:
            raise LienthongError(f"services={mode!r}: choose one of {', '.join(MODES)}")
        limits = {"": timeout, **(timeouts or {})}
        for op, t in limits.items():
            if not isinstance(t, int | float) or not t > 0:
                raise LienthongError(
                    f"service timeout {t!r} for {op or 'every operation'}: "
                    "a number of seconds above 0"
                )
        if attempts < 1 or backoff < 0:
            raise LienthongError("service_attempts must be at least 1, service_backoff >= 0")
        self.ctx = ctx
        self.progress = progress
        self.mode = mode
        self.timeout = float(timeout)
        self.timeouts = {op: float(t) for op, t in (timeouts or {}).items()}
        self.attempts = attempts
        self.backoff = float(backoff)
        self.lease = timedelta(seconds=max(limits.values())) + LEASE_MARGIN
        #: Who this engine is, in ``steps.leased_by``: the host, the process, the engine.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.calls = Calls(ctx.store)
        # Steps this engine opens while it runs service steps, or any in inline mode, are
        # held by it from the transaction that opens them: no worker takes them meanwhile,
        # and should this process die, they are due to whoever comes once the lease runs out.
        self._holding = mode == "inline"
        progress.service_fields = self._fields_at_open
        # The dossier as the last recorded result left it, by code: what after_command returns
        # without reading it again.
        self._moved: dict[str, Dossier] = {}

    def close(self) -> None:
        self.calls.close()

    def timeout_for(self, operation: str) -> float:
        return self.timeouts.get(operation, self.timeout)

    def _fields_at_open(self, now: datetime) -> dict[str, Any]:
        if not self._holding:
            return {"next_attempt_at": iso(now)}
        return {
            "next_attempt_at": iso(now),
            "leased_by": self.worker_id,
            "lease_until": iso(now + self.lease),
        }

    @contextmanager
    def _runner(self) -> Iterator[None]:
        held, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = held

    # -- after a command ---------------------------------------------------------------------
    def prepare(self, db: Any, code: str) -> Prepared:
        """At the end of a transaction that opened service steps of the dossier ``code``: what
        their calls need, if this engine is to run them once it commits
        (:func:`~lienthong.engine.inputs.prepare`); for :meth:`after_command`, once committed."""
        if not self._holding:
            return {}
        return inputs.prepare(self.ctx, db, code, self.worker_id)

    def after_command(self, d: Dossier, prepared: Prepared | None = None) -> Dossier:
        """Run the service steps the command that just committed opened (inline mode), with
        what :meth:`prepare` read for them in its transaction; the dossier as it stands then."""
        ctx = self.ctx
        if self.mode != "inline" or not ctx.pending_services:
            return d
        self._moved.pop(d.code, None)
        self.run_held(list(ctx.pending_services), prepared=prepared)
        # Failures and discarded results leave the dossier's row as it was.
        return self._moved.pop(d.code, d)

    def run_held(
        self,
        step_ids: Sequence[int],
        now: datetime | None = None,
        *,
        prepared: Prepared | None = None,
    ) -> list[ServiceOutcome]:
        """Run steps this engine holds, and those their results open, in order."""
        queue = list(step_ids)
        out: list[ServiceOutcome] = []
        ready = dict(prepared or {})
        with self._runner():
            while queue:
                step_id = queue.pop(0)
                outcomes, opened, more = self._run(step_id, now, ready.pop(step_id, None))
                out.extend(outcomes)
                queue.extend(opened)
                ready.update(more)
        return out

    def _run(
        self, step_id: int, now: datetime | None, prepared: Inputs | None = None
    ) -> tuple[list[ServiceOutcome], list[int], Prepared]:
        """Attempt a step, and again at once while its result is discarded for a change of
        the dossier (up to :data:`RERUNS` times): each attempt's outcome, and the steps the
        last opened with what their calls need."""
        outcomes = []
        for n in range(RERUNS + 1):
            outcome, opened, ready, rerun = self._attempt(step_id, now, prepared, again=n < RERUNS)
            prepared = None
            outcomes.append(outcome)
            if not rerun or n == RERUNS:
                return outcomes, opened, ready
        raise AssertionError("unreachable")

    # -- one attempt -------------------------------------------------------------------------
    def _attempt(
        self,
        step_id: int,
        now: datetime | None,
        prepared: Inputs | None = None,
        *,
        again: bool = False,
    ) -> tuple[ServiceOutcome, list[int], Prepared, bool]:
        """One attempt: its outcome, the steps it opened and what their calls need, whether to
        run it again at once (``again``: the caller would). ``prepared``: what :meth:`prepare`
        read for it, used if the dossier's workflow has not changed in this engine since."""
        ctx = self.ctx
        found = (
            prepared
            if prepared is not None and inputs.still_current(ctx, prepared)
            else inputs.read(ctx, step_id, self.worker_id)
        )
        if isinstance(found, tuple):
            return ServiceOutcome(found[0], step_id, "skipped", found[1]), [], {}, False
        if found.error is not None:
            return self._failed(found.step, found.dossier, found.error, now), [], {}, False
        step, d, operation, rev, data = (
            found.step,
            found.dossier,
            found.operation,
            found.rev,
            found.data,
        )
        what = f"operation {operation!r} of step {step.id} ({step.name}) of {d.code}"

        def perform(opdb: Any) -> Any:
            return ctx.hooks.call(
                "perform_operation",
                operation=operation,
                dossier=d,
                step=step,
                data=data,
                db=opdb,
                _dossier=d.code,
            )

        try:
            attempt = self.calls.call(perform, self.timeout_for(operation), what)
        except (LienthongError, sqlite3.Error) as e:  # hooks wrap a plugin's errors
            return self._failed(step, d, e, now), [], {}, False
        # Whatever happens, the attempt's writes are undone (unless recorded) and its
        # connection given back before the outcome is written: on an in-memory store the
        # attempt's transaction is the engine's own.
        try:
            opened, ready = self._record(attempt, step, d, rev, operation)
        except _Discarded as x:
            attempt.close()
            rerun = x.rerun and again
            return self._discarded(step, d, x, now, rerun), [], {}, rerun
        except (LienthongError, sqlite3.Error) as e:
            attempt.close()
            return self._failed(step, d, e, now), [], {}, False
        finally:
            attempt.close()
        return ServiceOutcome(d.code, step_id, "done"), opened, ready, False

    def _record(
        self, attempt: Attempt, step: Step, d: Dossier, rev: int | None, operation: str
    ) -> tuple[list[int], Prepared]:
        """Record the result in a short transaction; the service steps it opened, and what
        their calls need (read in that transaction, handed on once it has committed)."""
        ctx = self.ctx
        result = attempt.result
        if result is None:
            raise PluginError(
                f"no loaded plugin performs the operation {operation!r} "
                f"(step {step.id} of {d.code})"
            )
        data = check_data(result, f"result of {operation}")
        ctx.pending_services = []
        if attempt.wrote:
            # The operation wrote: its writes and the result commit together, or neither.
            try:
                moved, ready = self._finish(attempt.db, step, d.code, rev, data)
                attempt.commit()
            except BaseException:
                attempt.rollback()
                ctx.workflows.forget(d.code)
                ctx.changed.clear()
                raise
            ctx.committed()  # committed on the attempt's connection, not in a command
        else:
            attempt.close()  # its connection goes back first: the engine's records the result
            with ctx.command(d.code) as db:
                moved, ready = self._finish(db, step, d.code, rev, data)
        self._moved[d.code] = moved
        return list(ctx.pending_services), ready

    def _finish(
        self, db: Any, step: Step, code: str, rev: int | None, data: Mapping[str, Any]
    ) -> tuple[Dossier, Prepared]:
        ctx = self.ctx
        cur = ctx.records.step(db, step.id)
        if cur is None or not cur.is_open:
            raise _Discarded(f"the step was {cur.status if cur else 'removed'} meanwhile", False)
        if cur.leased_by != self.worker_id:
            raise _Discarded(f"{cur.leased_by or 'nobody'} holds the step now", False)
        d = ctx.dossier(db, code)
        if d.status in PAUSED:
            raise _Discarded(f"the dossier was paused meanwhile ({d.status.label})", False)
        stored = tables.state_rev(db, code)
        if stored != rev:
            raise _Discarded(
                f"the dossier changed while the operation ran (revision {rev} -> {stored})", True
            )
        moved = self.progress.finish_step(
            db, ctx.procedure(d.procedure_version), d, cur, None, data, rev=stored
        )
        return moved, self.prepare(db, code)

    def _discarded(
        self, step: Step, d: Dossier, x: _Discarded, now: datetime | None, rerun: bool
    ) -> ServiceOutcome:
        ctx = self.ctx
        ctx.pending_services = []
        at = now or ctx.clock.now()
        note = f"{x.reason}: result discarded" + (", the step runs again" if x.rerun else "")
        with ctx.command(d.code) as db:
            cur = ctx.records.step(db, step.id)
            if cur is not None and cur.is_open and cur.leased_by == self.worker_id:
                # Due again at once; held on to if this engine runs it again right away, else
                # any worker's (a paused dossier's step waits in the queue until it resumes).
                jobs.reschedule(
                    db,
                    step.id,
                    iso(at),
                    worker=self.worker_id if rerun else None,
                    lease_until=iso(at + self.lease) if rerun else None,
                )
            ctx.audit(
                db,
                dossier=d.code,
                event="service_result_discarded",
                at=iso(at),
                from_unit=step.unit,
                step_id=step.id,
                note=note,
            )
        return ServiceOutcome(d.code, step.id, "discarded", note)

    def _failed(
        self, step: Step, d: Dossier, e: BaseException, now: datetime | None
    ) -> ServiceOutcome:
        ctx = self.ctx
        ctx.workflows.forget(d.code)  # the attempt may have advanced the cached workflow
        ctx.pending_services = []
        at = now or ctx.clock.now()
        error = str(e)
        try:
            with ctx.command(d.code) as db:
                cur = ctx.records.step(db, step.id)
                if cur is None or not cur.is_open or cur.leased_by != self.worker_id:
                    # Closed, or taken over after this attempt's lease ran out: not ours.
                    return ServiceOutcome(d.code, step.id, "skipped", error, exception=e)
                n = cur.attempts + 1
                retry_at = at + self.wait(n) if n < self.attempts else None
                jobs.record_failure(db, step.id, error, iso(retry_at))
                ctx.audit(
                    db,
                    dossier=d.code,
                    event="service_failed",
                    at=iso(at),
                    from_unit=cur.unit,
                    step_id=step.id,
                    note=error,
                    data={"attempts": n, "next_attempt_at": iso(retry_at)},
                )
        except (StoreError, sqlite3.OperationalError) as db_error:
            # The store is too busy even for that: the lease runs out, and a worker runs the
            # step again then. The officer's command has committed; it must not fail now.
            error += f" (not recorded: {db_error}; the step runs again when its lease ends)"
            return ServiceOutcome(d.code, step.id, "failed", error, exception=e)
        return ServiceOutcome(d.code, step.id, "failed", error, retry_at, exception=e)

    def wait(self, attempts: int) -> timedelta:
        """How long a step waits after its ``attempts``-th failed attempt."""
        return timedelta(seconds=min(self.backoff * 2 ** (attempts - 1), MAX_BACKOFF))

    # -- commands ----------------------------------------------------------------------------
    def retry(self, dossier: str, step_id: int, data: Mapping[str, Any] | None = None) -> Dossier:
        """Run a service step now (see :meth:`lienthong.engine.Engine.retry`)."""
        ctx = self.ctx
        extra = None if data is None else check_data(data, f"data for step {step_id} of {dossier}")
        now = ctx.clock.now()
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            step = ctx.open_step(db, d, step_id)
            if step.kind != "service":
                raise NotAllowed(f"step {step_id} ({step.name}) of {dossier} is not a service step")
            if d.status in PAUSED:
                raise NotAllowed(
                    f"dossier {dossier} is paused ({d.status.label}): no step "
                    "completes until it resumes"
                )
            if not jobs.claim(
                db, step_id, self.worker_id, stamp(now), stamp(now + self.lease), due_only=False
            ):
                raise NotAllowed(
                    f"step {step_id} ({step.name}) of {dossier} is being run by "
                    f"{step.leased_by} (until {iso(step.lease_until)})"
                )
            if extra:
                wf = ctx.workflows.load(db, d)
                task = wf.get_task_from_id(UUID(step.task_id))
                if task is None:
                    raise LienthongError(f"step {step_id} of {dossier} is not in its workflow")
                task.data.update(extra)
                ctx.workflows.save(db, dossier, wf)
                ctx.audit(
                    db,
                    dossier=dossier,
                    event="data_corrected",
                    at=iso(now),
                    from_unit=step.unit,
                    step_id=step_id,
                    note=f"dữ liệu sửa khi chạy lại (corrected for a retry of {step.name})",
                    data=extra,
                )
        with self._runner():
            outcomes, opened, ready = self._run(step_id, None)
            if outcomes[-1].outcome == "failed" and outcomes[-1].exception is not None:
                raise outcomes[-1].exception
            self.run_held(opened, prepared=ready)
        return ctx.dossier(ctx.db, dossier)

    def correct_data(
        self, dossier: str, *, officer: str, data: Mapping[str, Any], reason: str
    ) -> Dossier:
        """Correct the dossier's data (see :meth:`lienthong.engine.Engine.correct_data`)."""
        ctx = self.ctx
        fields = check_data(data, f"corrected data for {dossier}")
        if not fields:
            raise InvalidData(f"correct_data {dossier}: no field to correct")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidData(f"correct_data {dossier}: a reason is required")
        now = ctx.clock.now()
        with ctx.command(dossier) as db:
            d = ctx.open_dossier(db, dossier)
            open_steps = ctx.open_steps_of(db, dossier)
            _check_corrector(ctx.org, d, open_steps, officer)
            wf = ctx.workflows.load(db, d)
            wf.data.update(fields)
            # The ready tasks are the open steps: what their officers and operations see.
            for task in wf.get_tasks(state=TaskState.READY):
                task.data.update(fields)
            ctx.workflows.save(db, dossier, wf)
            ctx.audit(
                db,
                dossier=dossier,
                event="data_corrected",
                at=iso(now),
                from_unit=ctx.org.officer(officer).unit,
                from_officer=officer,
                note=reason.strip(),
                data=fields,
            )
            held = jobs.schedule_open_services(
                db,
                dossier,
                stamp(now),
                worker=self.worker_id if self.mode == "inline" else None,
                lease_until=iso(now + self.lease),
            )
            ctx.pending_services = held
        return self.after_command(ctx.dossier(ctx.db, dossier))


def _check_corrector(
    org: Organisation, d: Dossier, open_steps: Sequence[Step], officer: str
) -> None:
    """Who may correct a dossier's data: the receiving desk, a unit holding open work, or a
    head above one of them."""
    if officer not in org.officers:
        raise NotAllowed(f"unknown officer {officer!r}")
    units = {d.receiving_unit, *(s.unit for s in open_steps)}
    for u in units:
        if org.may_act_for(officer, u) or any(
            org.unit(a).head == officer for a in org.ancestors(u)
        ):
            return
    raise NotAllowed(
        f"officer {officer} may not correct the data of {d.code}: not of "
        f"{', '.join(sorted(units))} nor a head above them"
    )
