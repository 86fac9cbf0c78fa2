"""What every command group of the engine shares: the organisation, the clock and calendar,
the hooks, the store and the records read from it, the procedures and the workflow cache.

A command group (:mod:`~lienthong.engine.steps`, :mod:`~lienthong.engine.services`,
:mod:`~lienthong.engine.legal`, :mod:`~lienthong.engine.tick`) takes a :class:`Context` and the
groups it builds on; :class:`~lienthong.engine.facade.Engine` puts them together. Every command
runs in :meth:`Context.command`: one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlite_utils

from lienthong.bpmn.procedures import Procedure
from lienthong.engine.procedures import Procedures
from lienthong.engine.workflows import Workflows
from lienthong.errors import DossierClosed, StepClosed, StepNotFound
from lienthong.legaltime import rules
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ, Clock
from lienthong.org import Organisation
from lienthong.plaindata import check_plain
from lienthong.plugins.manager import HookCaller
from lienthong.portal.progress import CHANGES
from lienthong.store import audit, tracker
from lienthong.store.records import Dossier, Step
from lienthong.store.sqlite import Store
from lienthong.store.tables import Records

#: Who the audit and the control sheet name as the other side of a handoff with the applicant.
APPLICANT = "Người nộp hồ sơ"

#: The text of the instants formatted lately. The text depends on the instant alone, and equal
#: datetimes are the same instant (whatever their time zones), so one entry serves them all.
_ISO: dict[datetime, str] = {}
_ISO_SIZE = 4096


def iso(t: datetime | None) -> str | None:
    """An instant as the store keeps it: ISO 8601 in Asia/Ho_Chi_Minh."""
    if t is None:
        return None
    # A command writes its "now", a step's due instant and the like several times, and the
    # next commands write them again: each is formatted once.
    text = _ISO.get(t)
    if text is None:
        text = (t if t.tzinfo is VN_TZ else t.astimezone(VN_TZ)).isoformat()
        if len(_ISO) >= _ISO_SIZE:
            _ISO.clear()
        _ISO[t] = text
    return text


def plain_json(value: Any, where: str, *, fields: bool = False) -> str:
    """``value`` as the JSON text the store keeps; :class:`InvalidData` naming ``where`` and the
    field if it would not read back exactly (:func:`lienthong.plaindata.check_plain`).
    ``fields``: its top-level keys are field names."""
    check_plain(value, where, field_names=fields)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


class Context:
    """The parts of one engine that its command groups share, and the reads they all make."""

    def __init__(
        self,
        *,
        store: Store,
        org: Organisation,
        clock: Clock,
        calendar: WorkingCalendar,
        hooks: HookCaller,
        procedures: Procedures,
        workflows: Workflows,
        supplement_window: int,
        supplements_per_unit: int,
    ) -> None:
        self.store = store
        self.db: sqlite_utils.Database = store.db
        self.org = org
        self.clock = clock
        self.calendar = calendar
        self.hooks = hooks
        self.procedures = procedures
        self.workflows = workflows
        self.records = Records()
        # The store's writes tell it what they wrote, so that each audit row's state digest
        # need not read the dossier's rows again.
        tracker.track(self.db)
        self.supplement_window = supplement_window
        self.supplements_per_unit = supplements_per_unit
        # Service steps opened by the running command, in order: only a command that opens one
        # has one to run (a step that failed waits for retry()).
        self.pending_services: list[int] = []
        # The dossiers whose portal record the open transaction changed (an audit event of
        # lienthong.portal.progress.CHANGES), in order, and what is told of them once it has
        # committed (lienthong.engine.aftercommit).
        self.changed: dict[str, None] = {}
        self.after_commit: Callable[[list[str]], None] | None = None

    @contextmanager
    def command(self, dossier: str | None = None) -> Iterator[sqlite_utils.Database]:
        """One command's transaction; on an error, the dossier's cached workflow is dropped
        (it may have advanced in memory past what the store keeps), and so is every workflow
        the transaction saved (a reception's, whose code the caller does not know yet; those
        of a tick's earlier actions, if the transaction as a whole rolls back)."""
        outer = not self.db.conn.in_transaction  # a command, not a part of one (tick's actions)
        if outer:
            self.pending_services = []
            self.changed.clear()
        mark = len(self.changed)
        try:
            with self.store.transaction() as db:
                yield db
        except BaseException:
            if dossier is not None:
                self.workflows.forget(dossier)
            if outer:
                self.changed.clear()
            else:  # the part's savepoint is undone: so are the changes it made
                for code in list(self.changed)[mark:]:
                    del self.changed[code]
            # A savepoint's rollback keeps the earlier actions' saves: dropping them too only
            # costs a read.
            self.workflows.rolled_back()
            raise
        if outer:
            self.workflows.committed()
            self.committed()

    def committed(self) -> None:
        """The transaction that changed :attr:`changed` has committed: tell
        :attr:`after_commit` (never raises; it runs after the fact)."""
        if not self.changed:
            return
        codes = list(self.changed)
        self.changed.clear()
        if self.after_commit is not None:
            self.after_commit(codes)

    def procedure(self, version: str) -> Procedure:
        """A procedure by code (its current version) or by version."""
        return self.procedures.get(version)

    # -- records -----------------------------------------------------------------------------
    def dossier(self, db: sqlite_utils.Database, code: str) -> Dossier:
        return self.records.dossier(db, code)

    def open_dossier(self, db: sqlite_utils.Database, code: str) -> Dossier:
        """The dossier, if it is still open; :class:`DossierClosed` otherwise."""
        d = self.records.dossier(db, code)
        if d.is_closed:
            raise DossierClosed(f"dossier {code} is closed ({d.status.label})")
        return d

    def step(self, db: sqlite_utils.Database, step_id: int) -> Step:
        """A step the command knows exists."""
        step = self.records.step(db, step_id)
        assert step is not None, step_id
        return step

    def step_of(
        self, db: sqlite_utils.Database, dossier: str, step_id: int, check_dossier: bool = True
    ) -> Step:
        """The dossier's step with that id; :class:`StepNotFound` if it has none."""
        if check_dossier:
            self.records.dossier(db, dossier)
        step = self.records.step_of(db, dossier, step_id)
        if step is None:
            raise StepNotFound(f"dossier {dossier} has no step {step_id!r}")
        return step

    def open_step(self, db: sqlite_utils.Database, d: Dossier, step_id: int) -> Step:
        """The dossier's step with that id, if it is still open; :class:`StepClosed` otherwise."""
        step = self.step_of(db, d.code, step_id, check_dossier=False)
        if not step.is_open:
            raise StepClosed(
                f"step {step_id} ({step.name}) of {d.code} was already {step.status} "
                f"at {step.closed_at.isoformat() if step.closed_at else '?'}"
            )
        return step

    def open_steps_of(self, db: sqlite_utils.Database, dossier: str) -> list[Step]:
        return self.records.open_steps_of(db, dossier)

    # -- writes every group makes ------------------------------------------------------------
    def audit(self, db: sqlite_utils.Database, **fields: Any) -> dict[str, Any]:
        """Append an audit row and tell the ``audit_event`` hook."""
        row = audit.append(db, **fields)
        event = fields.get("event")
        # A step done that only waits for a parallel branch hands nothing on: no change. (Noted
        # before the hook: if it raises, the savepoint or transaction undone drops the note.)
        if event in CHANGES and (event != "handoff" or fields.get("to_unit")):
            self.changed[fields["dossier"]] = None
        self.hooks.call("audit_event", row=row, db=db, _dossier=fields.get("dossier"))
        return row

    def apology_instants(
        self, start: datetime | None, appointment: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """The apology's reminder (``apology_at``, which the tick fires) and its legal latest
        instant (``apology_required_at``) for a clock started at ``start`` and due at
        ``appointment`` (:func:`lienthong.legaltime.rules.apology_instants`)."""
        if start is None or appointment is None:
            return None, None
        return rules.apology_instants(start, appointment, self.calendar)
