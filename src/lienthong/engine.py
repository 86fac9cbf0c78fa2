"""The Engine: receive a dossier and carry it through its procedure's BPMN process, durably.

Every public method that changes something is one *command*: it loads what it needs, lets
SpiffWorkflow advance, and stores the workflow state, the step rows, the dossier row and the audit
rows in one transaction. An error leaves the store as it was. A new Engine on the same file
continues every dossier where it stopped.

Service tasks are the exception that proves the rule: the command that makes one ready commits
first, then the service step runs its plugin operation in a transaction of its own, so that an
outside system being down never undoes an officer's work. A failed service step stays open, its
failure is in the audit, and :meth:`Engine.retry` runs it again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import sqlite_utils
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import audit, sla, store
from .calendar import WorkingCalendar
from .clock import VN_TZ, Clock, SystemClock
from .errors import (
    DossierClosed,
    DossierNotFound,
    InvalidData,
    LienthongError,
    NotAllowed,
    OrganisationError,
    PluginError,
    ProcedureError,
    ScriptError,
    StepClosed,
    StepNotFound,
    UnknownProcedure,
)
from .org import Officer, Organisation, Unit
from .plugins import HookCaller, make_plugin_manager
from .procedures import Procedure, StepSpec, load_procedure
from .records import Dossier, Step
from .scripts import make_script_engine
from .state import dump_state, load_state
from .status import Channel, Status
from .store import Store
from .timers import TimerCommands
from .workflow import Workflow

APPLICANT = "Người nộp hồ sơ"
_CACHE_SIZE = 256
_STEP_MEMO_SIZE = 4096


_last_iso: tuple[datetime | None, str | None] = (None, None)


def _iso(t: datetime | None) -> str | None:
    global _last_iso
    if t is None:
        return None
    # A command writes its "now" several times: format it once. Datetimes are immutable, and
    # the pair is replaced in one assignment, so threads cannot mix two pairs up.
    last = _last_iso
    if last[0] is t:
        return last[1]
    text = (t if t.tzinfo is VN_TZ else t.astimezone(VN_TZ)).isoformat()
    _last_iso = (t, text)
    return text


def _json(value: Any, where: str) -> str:
    try:
        # JSON has no NaN or infinity; the workflow state could not keep them either.
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidData(f"{where}: not plain data (JSON): {e}") from None


class Engine(TimerCommands):
    """Runs dossiers of loaded procedures for one organisation, on one store.

    :param db: a path to the SQLite file, ``":memory:"``, or a :class:`~lienthong.store.Store`.
    :param org: the :class:`~lienthong.org.Organisation`, or a path to its TOML file.
    :param clock: where "now" comes from; :class:`~lienthong.clock.SystemClock` by default.
    :param calendar: the working calendar; the default Vietnamese calendar plus plugin overlays.
    :param plugins: plugin objects or modules to register besides the defaults and entry points.
    :param entry_points: load third-party plugins from the ``lienthong`` entry-point group.
    :param scripts: ``"restricted"`` (default) or ``"python"``: full Python for BPMN scripts is an
        explicit choice of the deployment.
    :param durability: SQLite ``synchronous`` setting, ``"normal"`` (default, WAL) or ``"full"``.
    :param checkpoints: ``"background"`` (default) or ``"inline"``: who copies the WAL into the
        database file (see :class:`~lienthong.store.Store`).
    :param supplement_window: working minutes after a unit receives a dossier during which it may
        ask for a supplement (3 working days); a procedure's ``lienthong:supplement-window``
        overrides it for that procedure's sector.
    :param supplements_per_unit: supplement requests allowed per unit per dossier (1).
    """

    def __init__(
        self,
        db: str | Path | Store = ":memory:",
        *,
        org: Organisation | str | Path,
        clock: Clock | None = None,
        calendar: WorkingCalendar | None = None,
        plugins: Iterable[object] = (),
        entry_points: bool = True,
        scripts: str = "restricted",
        durability: str = "normal",
        checkpoints: str = "background",
        supplement_window: int = sla.SUPPLEMENT_WINDOW_MINUTES,
        supplements_per_unit: int = 1,
    ) -> None:
        self.supplement_window = supplement_window
        self.supplements_per_unit = supplements_per_unit
        self.clock: Clock = clock or SystemClock()
        self.pm = make_plugin_manager(plugins, entry_points=entry_points)
        self.hooks = HookCaller(self.pm)
        base_org = org if isinstance(org, Organisation) else Organisation.from_file(org)
        extra = [x for batch in self.hooks.call("organisation_units") for x in (batch or ())]
        if extra:
            base_org = Organisation.build(
                [*base_org.units.values(), *(x for x in extra if isinstance(x, Unit))],
                [*base_org.officers.values(), *(x for x in extra if isinstance(x, Officer))],
            )
        self.org = base_org
        overlays = [o for batch in self.hooks.call("calendar_overlays") for o in (batch or ())]
        self.calendar = calendar or WorkingCalendar.default()
        if overlays:
            self.calendar = self.calendar.with_overlays(*self.calendar_overlays(overlays))
        self.scripts = scripts
        self.script_engine = make_script_engine(scripts)
        self.store = db if isinstance(db, Store) else Store(
            db, durability=durability, checkpoints=checkpoints
        )
        self.db: sqlite_utils.Database = self.store.db
        self._procedures: dict[str, Procedure] = {}
        self._current: dict[str, str] = {}
        self._workflows: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._dossier_memo: dict[str, tuple[Any, Dossier]] = {}
        self._step_memo: dict[int, tuple[Any, Step]] = {}
        # Service steps opened by the running command, in order: only a command that opens one
        # has one to run (a step that failed waits for retry()).
        self._pending_services: list[int] = []
        for row in store.rows(
            self.db, "SELECT code, version FROM procedures ORDER BY loaded_at, rowid"
        ):
            self._current[row["code"]] = row["version"]
        for folder in self.hooks.call("procedure_dirs"):
            for d in folder or ():
                self.load_procedures(d)

    @staticmethod
    def calendar_overlays(items: Iterable[Any]) -> list[Any]:
        """Turn overlay paths into :class:`~lienthong.calendar.Overlay` objects."""
        from .calendar import Overlay

        return [o if isinstance(o, Overlay) else Overlay.load(o) for o in items]

    # -- procedures ------------------------------------------------------------------------------
    def load_procedure(self, source: str | Path | bytes, *, name: str | None = None) -> Procedure:
        """Parse a BPMN file and make it the current version of its procedure.

        The version (SHA-256 of the file) is stored once; loading the same file again changes
        nothing. A service task naming an operation no loaded plugin performs is an error here,
        not in the middle of a dossier.
        """
        proc = load_procedure(source, name=name, restricted_scripts=self.scripts == "restricted")
        known = {op for batch in self.hooks.call("operations") for op in (batch or ())}
        for task_id, op in proc.operations.items():
            if op not in known:
                raise ProcedureError(
                    f"{proc.source}: service task {task_id!r} names the operation {op!r}, which "
                    f"no loaded plugin performs (known: {', '.join(sorted(known)) or 'none'})"
                )
        with self.store.transaction() as db:
            if not db["procedures"].count_where("version = ?", [proc.version]):
                db.table("procedures").insert(
                    {
                        "version": proc.version,
                        "code": proc.code,
                        "name": proc.name,
                        "process_id": proc.process_id,
                        "deadline": proc.deadline_text,
                        "source": proc.source,
                        "bpmn": proc.bpmn,
                        "loaded_at": _iso(self.clock.now()),
                    }
                )
        self._procedures[proc.version] = proc
        self._current[proc.code] = proc.version
        return proc

    def load_procedures(self, folder: str | Path) -> list[Procedure]:
        """Load every ``*.bpmn`` file of a folder, in name order."""
        return [self.load_procedure(p) for p in sorted(Path(folder).glob("*.bpmn"))]

    def procedure(self, code_or_version: str) -> Procedure:
        """The current version of a procedure by code, or an exact version by its hash."""
        version = self._current.get(code_or_version, code_or_version)
        if version in self._procedures:
            return self._procedures[version]
        row = self.db.execute(
            "SELECT bpmn, source FROM procedures WHERE version = ?", [version]
        ).fetchone()
        if row is None:
            known = ", ".join(sorted(self._current)) or "none"
            raise UnknownProcedure(f"unknown procedure {code_or_version!r} (loaded: {known})")
        proc = load_procedure(row[0], name=row[1], restricted_scripts=self.scripts == "restricted")
        self._procedures[proc.version] = proc
        return proc

    def procedures(self) -> list[Procedure]:
        """The current version of every loaded procedure."""
        return [self.procedure(code) for code in sorted(self._current)]

    # -- commands ----------------------------------------------------------------------------------
    @contextmanager
    def _command(self, dossier: str | None = None) -> Iterator[sqlite_utils.Database]:
        if not self.db.conn.in_transaction:  # a command, not a part of one (tick's actions)
            self._pending_services = []
        try:
            with self.store.transaction() as db:
                yield db
        except BaseException:
            if dossier is not None:
                self._workflows.pop(dossier, None)
            raise

    def receive(
        self,
        procedure: str,
        *,
        applicant: Mapping[str, Any],
        receiving_unit: str,
        documents: Sequence[Mapping[str, Any] | str] = (),
        channel: Channel | int = Channel.DIRECT,
        officer: str | None = None,
        routing: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Dossier:
        """Receive a dossier (tiếp nhận hồ sơ) and open its first steps.

        :param procedure: the procedure code (mã TTHC).
        :param applicant: at least ``name``; any plain data (address, phone, email, id number).
        :param receiving_unit: the code of the unit that receives it; it prefixes the dossier code.
        :param documents: submitted documents, each a code or a mapping with at least ``code``.
        :param channel: 1 direct, 2 online, 3 postal (national portal numbering).
        :param officer: the desk officer receiving it (direct and postal channels).
        :param routing: lane role -> unit code, where the organisation alone cannot decide.
        :param data: extra workflow data available to the BPMN's scripts and conditions.

        A direct or postal dossier is received complete and valid now: the legal clock starts and
        the appointment is set. An online one only arrives (status 1): the reception step must
        accept it within 8 working hours, and the clock starts then.
        """
        proc = self.procedure(procedure)
        self.org.unit(receiving_unit)
        if not isinstance(applicant, Mapping) or not str(applicant.get("name", "")).strip():
            raise InvalidData("applicant: a mapping with at least a non-empty 'name' is required")
        try:
            channel = Channel(int(channel))
        except (ValueError, TypeError):
            raise InvalidData(
                f"channel: {channel!r} is not 1 (direct), 2 (online) or 3 (postal)"
            ) from None
        if officer is not None and not self.org.may_act_for(officer, receiving_unit):
            raise NotAllowed(f"officer {officer!r} does not work at {receiving_unit}")
        docs = tuple(self._document(d, i) for i, d in enumerate(documents))
        applicant_json = _json(dict(applicant), "applicant")
        extra = dict(data or {})
        _json(extra, "data")
        problems = [
            p
            for batch in self.hooks.call(
                "check_documents", procedure=proc, documents=docs, applicant=dict(applicant)
            )
            for p in (batch or ())
        ]
        if problems:
            raise InvalidData(f"documents for {proc.code}: " + "; ".join(problems))
        fee = self.hooks.call(
            "compute_fees", procedure=proc, documents=docs, applicant=dict(applicant)
        )
        units = self._route(proc, receiving_unit, routing or {})
        now = self.clock.now()
        with self._command() as db:
            code = self._next_code(db, receiving_unit, now)
            received = channel != Channel.ONLINE
            appointment = sla.appointment(proc, now, self.calendar) if received else None
            store.insert(
                db,
                "dossiers",
                {
                    "code": code,
                    "procedure_code": proc.code,
                    "procedure_version": proc.version,
                    "receiving_unit": receiving_unit,
                    "channel": int(channel),
                    "status": int(Status.ACCEPTED if received else Status.NEW),
                    "applicant": applicant_json,
                    "documents": _json(list(docs), "documents"),
                    "routing": _json(units, "routing"),
                    "arrived_at": _iso(now),
                    "received_at": _iso(now) if received else None,
                    "clock_start": _iso(self.calendar.next_working_instant(now))
                    if received
                    else None,
                    "appointment": _iso(appointment),
                    "original_appointment": _iso(appointment),
                    "apology_at": _iso(self._apology_at(appointment)),
                    "fee": fee,
                },
            )
            wf = Workflow(proc.spec, proc.subprocess_specs, script_engine=self.script_engine)
            wf.data.update(
                {
                    "dossier_code": code,
                    "channel": int(channel),
                    "applicant": dict(applicant),
                    "documents": [d["code"] for d in docs],
                    **extra,
                }
            )
            wf.task_tree.data.update(wf.data)
            self._advance(wf, code, None)
            dossier = self._dossier(db, code)
            new_steps = self._open_new_steps(db, proc, dossier, wf, now)
            first = new_steps[0] if new_steps else None
            # The reception row is the first handoff: applicant -> the first step's unit.
            self._audit(
                db,
                dossier=code,
                event="received",
                at=_iso(now),
                from_unit=None,
                from_officer=APPLICANT,
                to_unit=first.unit if first else receiving_unit,
                to_officer=officer or (first.assignee if first else None),
                step_id=first.id if first else None,
                share_minutes=first.share_minutes if first else None,
                due_at=_iso(first.due_at if first else appointment),
                note=f"{proc.code} – {channel.name.lower()}",
            )
            for step in new_steps:
                if step is not first:
                    self._handoff_row(
                        db,
                        dossier,
                        None,
                        step,
                        now,
                        giver_unit=receiving_unit,
                        giver_officer=officer,
                    )
                else:
                    self.hooks.call(
                        "handoff",
                        dossier=dossier,
                        from_step=None,
                        to_step=step,
                        at=now,
                        db=db,
                        _dossier=code,
                    )
            self._save(db, code, wf)
            dossier = self._dossier(db, code)
            self.hooks.call("dossier_received", dossier=dossier, db=db, _dossier=code)
            return self._run_services(db, dossier)[0]

    def claim(self, dossier: str, step_id: int, officer: str) -> Step:
        """Take an open step of one's unit (nhận xử lý); no other officer may complete it then."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            step = self._open_step(db, d, step_id)
            self._check_officer(step, officer)
            if step.assignee and step.assignee != officer:
                raise NotAllowed(
                    f"step {step_id} ({step.name}) of {dossier} is claimed by {step.assignee}"
                )
            now = self.clock.now()
            store.update(
                db,
                "steps",
                "id",
                step_id,
                {"assignee": officer, "claimed_at": _iso(now), "status": "claimed"},
            )
            self._audit(
                db,
                dossier=dossier,
                event="claimed",
                at=_iso(now),
                from_unit=step.unit,
                to_unit=step.unit,
                to_officer=officer,
                step_id=step_id,
                share_minutes=step.share_minutes,
                due_at=_iso(step.due_at),
            )
            return self._step(db, step_id)

    def complete(
        self, dossier: str, step_id: int, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """Complete a step with its data; the dossier moves on as the BPMN says.

        The reception step of an online dossier accepts it (the legal clock starts now) unless
        ``data`` says ``{"accepted": False, "reason": ...}``, which refuses it (status 3).
        """
        data = self._check_data(data, f"data for step {step_id} of {dossier}")
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            step = self._open_step(db, d, step_id)
            if step.kind != "user":
                raise NotAllowed(
                    f"step {step_id} ({step.name}) of {dossier} is a service step: plugins run it; "
                    "use retry()"
                )
            self._check_officer(step, officer)
            if step.assignee and step.assignee != officer and not self._is_superior(officer, step):
                raise NotAllowed(
                    f"step {step_id} ({step.name}) of {dossier} is claimed by {step.assignee}, "
                    f"not {officer}"
                )
            proc = self.procedure(d.procedure_version)
            spec = proc.steps[step.spec_id]
            if step.step_kind == "reception" and data.get("accepted") is False:
                return self._refuse(db, d, step, officer, data)
            missing = [f for f in spec.required_fields if data.get(f) in (None, "")]
            if missing:
                raise InvalidData(
                    f"step {step_id} ({step.name}) of {dossier}: missing required field(s) "
                    f"{', '.join(missing)}"
                )
            d = self._finish_step(db, proc, d, step, officer, data)
            return self._run_services(db, d)[0]

    def return_result(
        self, dossier: str, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """Return the result to the applicant (trả kết quả): complete the open return step."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            rows = self._step_records(
                db,
                "SELECT * FROM steps WHERE dossier = ? AND closed_at IS NULL "
                "AND step_kind = 'return'",
                [dossier],
            )
        if not rows:
            raise NotAllowed(
                f"dossier {dossier} has no result ready to return (status {d.status.label})"
            )
        return self.complete(dossier, rows[0].id, officer, data)

    def withdraw(
        self, dossier: str, *, reason: str, officer: str | None = None, by_agency: bool = False
    ) -> Dossier:
        """The applicant withdraws the dossier (status 7), or the agency stops it (8, Mẫu 05).

        Open steps are cancelled; the workflow is cancelled; the dossier is closed.
        """
        if not reason or not str(reason).strip():
            raise InvalidData(f"withdraw {dossier}: a reason is required")
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            if officer is not None:
                self.org.officer(officer)
            status = Status.STOPPED if by_agency else Status.WITHDRAWN
            self._close_early(
                db,
                d,
                status,
                self.clock.now(),
                str(reason),
                event="withdrawn",
                from_officer=APPLICANT if not by_agency else officer,
                to_unit=d.receiving_unit,
                to_officer=officer,
            )
            out = self._dossier(db, dossier)
            self.hooks.call(
                "dossier_withdrawn", dossier=out, reason=str(reason), db=db, _dossier=dossier
            )
            return out

    def retry(self, dossier: str, step_id: int) -> Dossier:
        """Run a failed service step again. Raises :class:`PluginError` if it fails again (the
        new failure is recorded); on success the dossier moves on."""
        with self._command(dossier) as db:
            d = self._open_dossier(db, dossier)
            step = self._open_step(db, d, step_id)
            if step.kind != "service":
                raise NotAllowed(f"step {step_id} ({step.name}) of {dossier} is not a service step")
            d, errors = self._run_services(db, d, only=step_id)
            if not errors:
                self._run_services(db, d)
        if errors:
            raise errors[0]
        return self.dossier(dossier)

    # -- queries -----------------------------------------------------------------------------------
    def dossier(self, code: str) -> Dossier:
        """The dossier with that code."""
        return self._dossier(self.db, code)

    def dossiers(self, *, status: Status | None = None) -> list[Dossier]:
        """All dossiers, or those with one status, in code order."""
        where, args = ("status = ?", [int(status)]) if status is not None else ("1", [])
        return [
            Dossier.from_row(r)
            for r in store.rows(
                self.db, f"SELECT * FROM dossiers WHERE {where} ORDER BY code", args
            )
        ]

    def steps(self, dossier: str) -> list[Step]:
        """Every step of a dossier, open and closed, in the order they opened."""
        self.dossier(dossier)
        return self._step_records(
            self.db, "SELECT * FROM steps WHERE dossier = ? ORDER BY id", [dossier]
        )

    def step(self, dossier: str, step_id: int) -> Step:
        """One step of a dossier."""
        return self._step_of(self.db, dossier, step_id)

    def open_steps(
        self, *, unit: str | None = None, officer: str | None = None, dossier: str | None = None
    ) -> list[Step]:
        """Open steps of a unit, of a dossier, or those an officer may work: assigned to them, in
        their unit's queue, or escalated to them. Ordered by due instant."""
        if sum(x is not None for x in (unit, officer, dossier)) != 1:
            raise InvalidData("open_steps: give exactly one of unit=, officer= or dossier=")
        if dossier is not None:
            rows = self._step_records(
                self.db,
                "SELECT * FROM steps WHERE closed_at IS NULL AND dossier = ? ORDER BY id",
                [dossier],
            )
            if not rows:
                self.dossier(dossier)  # an unknown code is an error, a finished one is not
        elif unit is not None:
            self.org.unit(unit)
            rows = self._step_records(
                self.db,
                "SELECT * FROM steps WHERE closed_at IS NULL AND unit = ? "
                "ORDER BY due_at IS NULL, due_at, id",
                [unit],
            )
        else:
            o = self.org.officer(officer or "")
            # Three indexed searches: SQLite would scan every open step for the OR of them.
            rows = self._step_records(
                self.db,
                "SELECT * FROM (SELECT * FROM steps WHERE closed_at IS NULL AND assignee = ?1 "
                "UNION SELECT * FROM steps WHERE closed_at IS NULL AND assignee IS NULL "
                "AND unit = ?2 UNION SELECT * FROM steps WHERE closed_at IS NULL "
                "AND escalated_to = ?1) ORDER BY due_at IS NULL, due_at, id",
                [o.id, o.unit],
            )
        return rows

    def audit_rows(self, dossier: str) -> list[dict[str, Any]]:
        """The dossier's audit rows, in order."""
        self.dossier(dossier)
        return audit.rows_for(self.db, dossier)

    def verify_audit(self) -> audit.VerifyResult:
        """Check the whole audit chain; the result names the first broken row."""
        return audit.verify(self.db)

    def control_sheet(self, dossier: str) -> audit.ControlSheet:
        """The process control sheet (phiếu kiểm soát, Mẫu 06) of a dossier."""
        from .sheet import control_sheet

        return control_sheet(self, dossier)

    def close(self) -> None:
        """Close the store."""
        self._workflows.clear()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals: dossier and step rows ---------------------------------------------------------
    def _dossier(self, db: sqlite_utils.Database, code: str) -> Dossier:
        cur = db.conn.execute("SELECT * FROM dossiers WHERE code = ?", [code])
        row = cur.fetchone()
        if row is None:
            raise DossierNotFound(f"no dossier {code!r}")
        # Dossier records are immutable: the same row gives the same record, without decoding
        # its JSON and instants again.
        memo = self._dossier_memo.get(code)
        if memo is not None and memo[0] == row:
            return memo[1]
        d = Dossier.from_row(dict(zip([c[0] for c in cur.description], row, strict=True)))
        if len(self._dossier_memo) >= _CACHE_SIZE:
            self._dossier_memo.clear()
        self._dossier_memo[code] = (row, d)
        return d

    def _open_dossier(self, db: sqlite_utils.Database, code: str) -> Dossier:
        d = self._dossier(db, code)
        if d.is_closed:
            raise DossierClosed(f"dossier {code} is closed ({d.status.label})")
        return d

    def _step_records(
        self, db: sqlite_utils.Database, sql: str, args: Sequence[object]
    ) -> list[Step]:
        """The steps a ``SELECT * FROM steps ...`` query finds. Step records are immutable: a
        row the engine has seen before gives back the record it built then."""
        cur = db.conn.execute(sql, args)
        names: list[str] | None = None
        memo = self._step_memo
        out = []
        for row in cur.fetchall():
            seen = memo.get(row[0])
            if seen is not None and seen[0] == row:
                out.append(seen[1])
                continue
            if names is None:
                names = [c[0] for c in cur.description]
            step = Step.from_row(dict(zip(names, row, strict=True)))
            if len(memo) >= _STEP_MEMO_SIZE:
                memo.clear()
            memo[row[0]] = (row, step)
            out.append(step)
        return out

    def _step(self, db: sqlite_utils.Database, step_id: int) -> Step:
        return self._step_records(db, "SELECT * FROM steps WHERE id = ?", [step_id])[0]

    def _step_of(
        self, db: sqlite_utils.Database, dossier: str, step_id: int, check_dossier: bool = True
    ) -> Step:
        if check_dossier:
            self._dossier(db, dossier)
        rows = self._step_records(
            db, "SELECT * FROM steps WHERE id = ? AND dossier = ?", [step_id, dossier]
        )
        if not rows:
            raise StepNotFound(f"dossier {dossier} has no step {step_id!r}")
        return rows[0]

    def _open_step(self, db: sqlite_utils.Database, d: Dossier, step_id: int) -> Step:
        step = self._step_of(db, d.code, step_id, check_dossier=False)
        if not step.is_open:
            raise StepClosed(
                f"step {step_id} ({step.name}) of {d.code} was already {step.status} "
                f"at {step.closed_at.isoformat() if step.closed_at else '?'}"
            )
        return step

    def _check_officer(self, step: Step, officer: str) -> None:
        try:
            self.org.officer(officer)
        except OrganisationError:
            raise NotAllowed(f"unknown officer {officer!r}") from None
        if self.org.may_act_for(officer, step.unit) or self._is_superior(officer, step):
            return
        raise NotAllowed(
            f"officer {officer} ({self.org.officer(officer).unit}) may not act on step {step.id} "
            f"({step.name}) of {step.dossier}: it belongs to unit {step.unit}"
        )

    def _is_superior(self, officer: str, step: Step) -> bool:
        """Heads up the hierarchy may act on a step escalated to them."""
        if step.escalated_to == officer:
            return True
        return any(self.org.unit(u).head == officer for u in self.org.ancestors(step.unit))

    @staticmethod
    def _document(d: Mapping[str, Any] | str, i: int) -> dict[str, Any]:
        if isinstance(d, str):
            d = {"code": d}
        if not isinstance(d, Mapping) or not str(d.get("code", "")).strip():
            raise InvalidData(f"documents[{i}]: a document needs a non-empty 'code'")
        return dict(d)

    @staticmethod
    def _check_data(data: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise InvalidData(f"{where}: must be a mapping of field names to values")
        for k in data:
            if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
                raise InvalidData(
                    f"{where}: field name {k!r} must be an identifier not starting with '_'"
                )
        _json(dict(data), where)
        return dict(data)

    def _route(self, proc: Procedure, receiving: str, routing: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        roles = {lane.role for lane in proc.lanes.values()}
        for role, unit in routing.items():
            if role not in roles:
                raise InvalidData(f"routing: {proc.code} has no lane with role {role!r}")
            self.org.unit(unit)
        for role in sorted(roles):
            if role in routing:
                out[role] = routing[role]
            elif role in self.org.unit(receiving).roles:
                out[role] = receiving
            else:
                out[role] = self.org.resolve_role(role, near=receiving).code
        return out

    def _next_code(self, db: sqlite_utils.Database, unit: str, now: datetime) -> str:
        day = now.astimezone(VN_TZ).strftime("%y%m%d")
        n = db.conn.execute(
            "INSERT INTO daily_sequence (unit, day, last) VALUES (?, ?, 1) "
            "ON CONFLICT (unit, day) DO UPDATE SET last = last + 1 RETURNING last",
            [unit, day],
        ).fetchone()[0]
        if n > 9999:
            raise LienthongError(f"unit {unit} received more than 9999 dossiers on {day}")
        return f"{unit}-{day}-{n:04d}"

    def _apology_at(self, appointment: datetime | None) -> datetime | None:
        """One working day before the appointment: the latest moment for the apology."""
        if appointment is None:
            return None
        return self.calendar.subtract(appointment, days=1)

    def _audit(self, db: sqlite_utils.Database, **fields: Any) -> dict[str, Any]:
        row = audit.append(db, **fields)
        self.hooks.call("audit_event", row=row, db=db, _dossier=fields.get("dossier"))
        return row

    def _handoff_row(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        closed: Step | None,
        new: Step | None,
        at: datetime,
        *,
        giver_unit: str | None = None,
        giver_officer: str | None = None,
        note: str | None = None,
    ) -> None:
        self._audit(
            db,
            dossier=d.code,
            event="handoff",
            at=_iso(at),
            from_unit=closed.unit if closed else giver_unit,
            from_officer=(closed.closed_by if closed else giver_officer),
            to_unit=new.unit if new else None,
            to_officer=new.assignee if new else None,
            step_id=new.id if new else (closed.id if closed else None),
            share_minutes=new.share_minutes if new else None,
            due_at=_iso(new.due_at) if new else None,
            result_class=closed.result_class if closed else None,
            note=note or (new.name if new else "chờ nhánh song song (awaiting a parallel branch)"),
        )
        self.hooks.call(
            "handoff", dossier=d, from_step=closed, to_step=new, at=at, db=db, _dossier=d.code
        )

    # -- internals: the workflow -------------------------------------------------------------------
    def _workflow(self, db: sqlite_utils.Database, d: Dossier) -> BpmnWorkflow:
        row = db.conn.execute(
            "SELECT rev FROM dossier_states WHERE code = ?", [d.code]
        ).fetchone()
        cached = self._workflows.get(d.code)
        if cached is not None and row is not None and cached[0] == row[0]:
            # Another Engine on the same file would have bumped the revision.
            self._workflows.move_to_end(d.code)
            return cached[1]
        blob = db.execute("SELECT state FROM dossier_states WHERE code = ?", [d.code]).fetchone()[0]
        proc = self.procedure(d.procedure_version)
        return load_state(blob, proc.spec, proc.subprocess_specs, self.script_engine)

    def _save(self, db: sqlite_utils.Database, code: str, wf: BpmnWorkflow) -> None:
        rev = db.conn.execute(
            "INSERT INTO dossier_states (code, rev, state) VALUES (?, 1, ?) ON CONFLICT (code) "
            "DO UPDATE SET rev = rev + 1, state = excluded.state RETURNING rev",
            [code, dump_state(wf)],
        ).fetchone()[0]
        if wf.completed:
            # No command runs a finished workflow again: the cache is for the open ones.
            self._workflows.pop(code, None)
            return
        self._workflows[code] = (rev, wf)
        self._workflows.move_to_end(code)
        while len(self._workflows) > _CACHE_SIZE:
            self._workflows.popitem(last=False)

    def _advance(self, wf: BpmnWorkflow, code: str, task: Any) -> None:
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

    def _open_new_steps(
        self,
        db: sqlite_utils.Database,
        proc: Procedure,
        d: Dossier,
        wf: BpmnWorkflow,
        now: datetime,
        known: Mapping[str, str] | None = None,
    ) -> list[Step]:
        """Open a step for each ready task that has none. ``known``: the open steps' task ids
        (and step kinds), if the caller has read them already."""
        if known is None:
            known = self._open_task_ids(db, d.code)
        out = []
        # A flat scan of the task dict: SpiffWorkflow's tree iterator costs more.
        ready = TaskState.READY
        for task in [t for t in wf.tasks.values() if t._state == ready]:
            spec = proc.steps.get(task.task_spec.bpmn_id)
            if spec is None or not spec.is_step or str(task.id) in known:
                continue
            out.append(self._open_step_row(db, proc, d, spec, str(task.id), now))
        return out

    @staticmethod
    def _open_task_ids(db: sqlite_utils.Database, code: str) -> dict[str, str]:
        """Task id -> step kind, of the dossier's open steps."""
        return dict(
            db.conn.execute(
                "SELECT task_id, step_kind FROM steps WHERE dossier = ? AND closed_at IS NULL",
                [code],
            ).fetchall()
        )

    def _open_step_row(
        self,
        db: sqlite_utils.Database,
        proc: Procedure,
        d: Dossier,
        spec: StepSpec,
        task_id: str,
        now: datetime,
    ) -> Step:
        unit = d.routing[spec.role]
        due: datetime | None
        if spec.step_kind == "reception" and d.channel == Channel.ONLINE:
            due = self.calendar.add_minutes(now, sla.ONLINE_RECEPTION_MINUTES)
        elif spec.share_minutes > 0:
            due = sla.step_due(now, spec.share_minutes, self.calendar)
        else:
            due = d.appointment  # no share of its own: it must still finish by the appointment
        share = spec.share_minutes
        warn = sla.warn_at(now, share, self.calendar) if share > 0 else None
        row = {
            "dossier": d.code,
            "task_id": task_id,
            "spec_id": spec.id,
            "name": spec.name,
            "kind": spec.kind,
            "step_kind": spec.step_kind,
            "role": spec.role,
            "unit": unit,
            "assignee": None,
            "status": "open",
            "opened_at": _iso(now),
            "share_minutes": share,
            "due_at": _iso(due),
            "warn_at": _iso(warn),
            "next_escalation_at": _iso(due),
            "data": None,
        }
        step_id = store.insert(db, "steps", row)
        if spec.kind == "service":
            self._pending_services.append(step_id)
        step = Step(
            id=step_id,
            dossier=d.code,
            task_id=task_id,
            spec_id=spec.id,
            name=spec.name,
            kind=spec.kind,
            step_kind=spec.step_kind,
            role=spec.role,
            unit=unit,
            assignee=None,
            status="open",
            opened_at=now,
            claimed_at=None,
            closed_at=None,
            closed_by=None,
            share_minutes=share,
            due_at=due,
            result_class=None,
            data={},
            warn_at=warn,
            next_escalation_at=due,
        )
        if spec.kind == "user" and self.hooks.has("choose_assignee"):
            u = self.org.unit(unit)
            candidates = tuple(self.org.members(unit))
            chosen = self.hooks.call(
                "choose_assignee",
                dossier=d,
                step=step,
                unit=u,
                candidates=candidates,
                _dossier=d.code,
            )
            if chosen is not None:
                if chosen not in {o.id for o in candidates}:
                    raise PluginError(
                        f"choose_assignee returned {chosen!r}, not an officer of {unit}"
                    )
                store.update(db, "steps", "id", step_id, {"assignee": chosen})
                step = attrs.evolve(step, assignee=chosen)
        return step

    def _set(self, db: sqlite_utils.Database, d: Dossier, **values: Any) -> Dossier:
        """Store changes to a dossier's row and return the record with them applied."""
        stored = {
            k: _iso(v) if isinstance(v, datetime) else int(v) if isinstance(v, Status) else v
            for k, v in values.items()
        }
        store.update(db, "dossiers", "code", d.code, stored)
        return attrs.evolve(d, **values)

    def _close_early(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        status: Status,
        at: datetime,
        note: str,
        **audit_fields: Any,
    ) -> Dossier:
        """Stop a dossier before its result: cancel the workflow and the open steps, set the
        status (3 refused, 7 withdrawn, 8 stopped), write the audit row. Returns the dossier."""
        wf = self._workflow(db, d)
        wf.cancel()
        db.execute(
            "UPDATE steps SET status = 'cancelled', closed_at = ? WHERE dossier = ? "
            "AND closed_at IS NULL",
            [_iso(at), d.code],
        )
        d = self._set(db, d, status=status, closed_at=at, note=note)
        self._audit(db, dossier=d.code, at=_iso(at), note=note, **audit_fields)
        self._save(db, d.code, wf)
        return d

    def _finish_step(
        self,
        db: sqlite_utils.Database,
        proc: Procedure,
        d: Dossier,
        step: Step,
        officer: str | None,
        data: Mapping[str, Any],
    ) -> Dossier:
        """Close a step in the workflow and the store, open what it made ready, record the
        handoffs, and move the dossier's status on. Returns the updated dossier."""
        now = self.clock.now()
        wf = self._workflow(db, d)
        task = wf.get_task_from_id(UUID(step.task_id))
        if task is None or task.state != TaskState.READY:
            raise StepClosed(
                f"step {step.id} ({step.name}) of {d.code} is not ready in the workflow"
            )
        task.data.update(data)
        self._advance(wf, d.code, task)
        result = sla.classify(now, step.due_at)
        who = officer or "system"
        store.update(
            db,
            "steps",
            "id",
            step.id,
            {
                "status": "done",
                "closed_at": _iso(now),
                "closed_by": who,
                "result_class": result,
                "data": _json(dict(data), "data"),
                "assignee": step.assignee or officer,
            },
        )
        closed = attrs.evolve(
            step,
            status="done",
            closed_at=now,
            closed_by=who,
            result_class=result,
            data=dict(data),
            assignee=step.assignee or officer,
        )
        if step.step_kind == "reception" and d.received_at is None:
            appointment = sla.appointment(proc, now, self.calendar)
            d = self._set(
                db,
                d,
                received_at=now,
                clock_start=self.calendar.next_working_instant(now),
                appointment=appointment,
                original_appointment=appointment,
                apology_at=self._apology_at(appointment),
            )
        if d.status in (Status.NEW, Status.ACCEPTED):
            d = self._set(db, d, status=Status.PROCESSING)
        known = self._open_task_ids(db, d.code)
        new_steps = self._open_new_steps(db, proc, d, wf, now, known)
        if not wf.completed and d.resolved_at is None:
            # Only the hand-over is left: the result is ready (status 9), before the handoff
            # hooks see the dossier.
            kinds = [*known.values(), *(s.step_kind for s in new_steps)]
            if kinds and all(k == "return" for k in kinds):
                d = self._set(
                    db,
                    d,
                    status=Status.RESOLVED,
                    resolved_at=now,
                    result_class=sla.classify(now, d.appointment),
                    kpi_class=sla.kpi_classify(d, now, self.calendar),
                )
        if not new_steps and not wf.completed:
            self._handoff_row(db, d, closed, None, now)
        for new in new_steps:
            self._handoff_row(db, d, closed, new, now)
        if wf.completed:
            resolved = d.resolved_at or now
            d = self._set(
                db,
                d,
                status=Status.RETURNED,
                closed_at=now,
                resolved_at=resolved,
                result_class=d.result_class or sla.classify(resolved, d.appointment),
                kpi_class=sla.kpi_classify(d, resolved, self.calendar),
            )
            self._audit(
                db,
                dossier=d.code,
                event="returned",
                at=_iso(now),
                from_unit=step.unit,
                from_officer=officer,
                to_unit=None,
                to_officer=APPLICANT,
                result_class=d.result_class,
                note="đã trả kết quả",
            )
        self._save(db, d.code, wf)
        if wf.completed:
            self.hooks.call("result_returned", dossier=d, db=db, _dossier=d.code)
        return d

    def _refuse(
        self,
        db: sqlite_utils.Database,
        d: Dossier,
        step: Step,
        officer: str,
        data: Mapping[str, Any],
    ) -> Dossier:
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise InvalidData(f"refusing {d.code}: data must give a 'reason' (Mẫu 03)")
        store.update(
            db,
            "steps",
            "id",
            step.id,
            {"status": "done", "closed_by": officer, "data": _json(dict(data), "data")},
        )
        return self._close_early(
            db,
            d,
            Status.REFUSED,
            self.clock.now(),
            reason,
            event="refused",
            from_unit=step.unit,
            from_officer=officer,
            to_officer=APPLICANT,
            step_id=step.id,
        )

    # -- internals: service steps ------------------------------------------------------------------
    def _run_services(
        self, db: sqlite_utils.Database, d: Dossier, only: int | None = None
    ) -> tuple[Dossier, list[LienthongError]]:
        """Run the dossier's ready service steps inside the current command, each under a
        savepoint: a plugin failure rolls back that step alone, and is recorded on the step and
        in the audit, while the officer's work in the same command stands. A step that failed
        before is left for :meth:`retry`. Returns the updated dossier and the failures."""
        errors: list[LienthongError] = []
        tried: set[int] = set()
        while not d.is_closed:
            if only is not None:
                todo = [] if only in tried else [only]
            else:
                todo = [i for i in self._pending_services if i not in tried]
            if not todo:
                break
            step_id = todo[0]
            tried.add(step_id)
            found = self._step_records(db, "SELECT * FROM steps WHERE id = ?", [step_id])
            if not found:
                continue
            step = found[0]
            if (
                step.dossier != d.code
                or step.kind != "service"
                or step.closed_at is not None
                or (only is None and step.status != "open")
            ):
                continue
            opened = len(self._pending_services)
            try:
                with store.savepoint(db):
                    d = self._perform(db, d, step)
            except (PluginError, InvalidData, ScriptError) as e:
                # The failed attempt advanced the in-memory workflow: forget it, the store has
                # the state from before the attempt, without the steps the attempt opened.
                self._workflows.pop(d.code, None)
                del self._pending_services[opened:]
                now = self.clock.now()
                db.execute(
                    "UPDATE steps SET attempts = attempts + 1, last_error = ?, "
                    "status = 'failed' WHERE id = ?",
                    [str(e), step_id],
                )
                step = self._step(db, step_id)
                self._audit(
                    db,
                    dossier=d.code,
                    event="service_failed",
                    at=_iso(now),
                    from_unit=step.unit,
                    step_id=step_id,
                    note=str(e),
                )
                errors.append(e)
        return d, errors

    def _perform(self, db: sqlite_utils.Database, d: Dossier, step: Step) -> Dossier:
        step_id = step.id
        proc = self.procedure(d.procedure_version)
        spec = proc.steps[step.spec_id]
        wf = self._workflow(db, d)
        task = wf.get_task_from_id(UUID(step.task_id))
        result = self.hooks.call(
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
                f"(step {step_id} of {d.code})"
            )
        return self._finish_step(
            db, proc, d, step, None, self._check_data(result, f"result of {spec.operation}")
        )
