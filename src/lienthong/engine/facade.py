"""The Engine: receive a dossier and carry it through its procedure's BPMN process, durably.

Every public method that changes something is one *command*: it loads what it needs, lets
SpiffWorkflow advance, and stores the workflow state, the step rows, the dossier row and the audit
rows in one transaction. An error leaves the store as it was. A new Engine on the same file
continues every dossier where it stopped.

:class:`Engine` is a facade, as Camunda's ``ProcessEngine`` is: the work is done by command groups
a reader finds by name — :mod:`~lienthong.engine.steps` (reception and steps),
:mod:`~lienthong.engine.services` (service steps), :mod:`~lienthong.engine.legal` (supplements,
obligations), :mod:`~lienthong.engine.apology` (the apology), :mod:`~lienthong.engine.tick` (the
SLA timers) — over a shared
:class:`~lienthong.engine.context.Context`.

Service tasks are the exception that proves the rule: a service step's plugin operation (a call
to another agency's system) runs after the command that made it ready has committed, outside any
transaction, and its result is recorded in a short transaction of its own
(:mod:`~lienthong.engine.services`), so that an outside system being slow or down never holds the
database nor undoes an officer's work. A failed service step stays open, its failure is on the
step and in the audit, and a worker (:meth:`Engine.work`) or :meth:`Engine.retry` runs it again.

Every error a public method raises is a :class:`~lienthong.errors.LienthongError`, in two layers.
The facade checks the *shape* of what a caller hands in before a command starts (codes, ids and
reasons are text that SQLite can store, a step id is an integer, an instant is a datetime: see
:mod:`~lienthong.engine.arguments`), and raises :class:`~lienthong.errors.InvalidData` naming the
argument; the command groups check what it *means*. Behind that, each public method is
:func:`_guarded`: a :mod:`sqlite3` error becomes a :class:`~lienthong.errors.StoreError` naming the
command and the file, anything else unexpected an :class:`~lienthong.errors.InternalError`, a bug
to report, with the original as its ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from lienthong.bpmn.procedures import Procedure
from lienthong.bpmn.scripts import make_script_engine
from lienthong.engine import arguments as arg
from lienthong.engine import organisation, setup
from lienthong.engine.aftercommit import AfterCommit
from lienthong.engine.apology import ApologyCommands
from lienthong.engine.context import Context, iso
from lienthong.engine.guard import guarded as _guarded
from lienthong.engine.legal import LegalTimeCommands
from lienthong.engine.migrate import MigrateCommands
from lienthong.engine.procedures import Procedures
from lienthong.engine.progress import Progress
from lienthong.engine.queries import Queries
from lienthong.engine.services import ServiceSteps
from lienthong.engine.steps import StepCommands
from lienthong.engine.tick import TickCommands, TickReport
from lienthong.engine.worker import Worker, WorkReport
from lienthong.engine.workflows import Workflows
from lienthong.errors import (
    InvalidData,
    ProcedureError,
)
from lienthong.legaltime import rules
from lienthong.legaltime.calendar import Overlay, WorkingCalendar
from lienthong.legaltime.clock import Clock, SystemClock
from lienthong.org import Organisation
from lienthong.plugins.manager import HookCaller
from lienthong.status import Channel
from lienthong.store.records import Dossier, Step
from lienthong.store.sqlite import Store
from lienthong.store.stores import open_store


class Engine(Queries):
    """Runs dossiers of loaded procedures for one organisation, on one store.

    :param db: a path to the SQLite file, ``":memory:"``, a PostgreSQL address
        (``postgresql://…``, :mod:`lienthong.store.postgres`), or a
        :class:`~lienthong.store.Store`.
    :param org: the :class:`~lienthong.org.Organisation`, or a path to its TOML file; stored
        in the database (each version once) when the engine opens it. ``None``: the organisation
        the database holds, the one the last engine opened with
        (:class:`~lienthong.errors.OrganisationNotStored` if it holds none).
    :param clock: where "now" comes from; :class:`~lienthong.legaltime.clock.SystemClock` by
        default.
    :param calendar: the working calendar; the default Vietnamese calendar plus plugin overlays.
    :param plugins: plugin objects or modules to register besides the defaults and entry points.
    :param entry_points: load third-party plugins from the ``lienthong`` entry-point group.
    :param enabled_plugins: the names of the entry points to load, a deployment's list (its
        ``lienthong.toml``'s ``plugins``): the others are not loaded, and a name not installed is
        an error. ``None``: ``LIENTHONG_PLUGINS`` if set, else every installed one except the
        examples for the demo organisation, which load only when the organisation (given, or
        stored in ``db``) is the demo's (docs/plugins.md, "Which plugins load").
    :param scripts: ``"restricted"`` (default) or ``"python"``: full Python for BPMN scripts is an
        explicit choice of the deployment.
    :param script_time_budget: wall-clock seconds one restricted script or condition may run (1).
    :param durability: SQLite ``synchronous`` setting, ``"normal"`` (default, WAL) or ``"full"``.
    :param checkpoints: ``"background"`` (default) or ``"inline"``: who copies the WAL into the
        database file (see :class:`~lienthong.store.Store`).
    :param busy_timeout: seconds a command waits for the write lock another process holds (5),
        then :class:`~lienthong.errors.StoreBusy`; ignored when ``db`` is a Store.
    :param supplement_window: working minutes after a unit receives a dossier during which it may
        ask for a supplement (3 working days); a procedure's ``lienthong:supplement-window``
        overrides it for that procedure's sector.
    :param supplements_per_unit: supplement requests allowed per unit per dossier (1).
    :param services: ``"inline"`` (default): the service steps a command opens run right after
        it commits, before it returns; ``"worker"``: only :meth:`work` (``lienthong work``)
        runs them.
    :param service_timeout: seconds a service operation may take (30) before it is abandoned
        and counted as a failed attempt; ``service_timeouts`` maps an operation to its own.
    :param service_attempts: attempts of a service step before it waits for :meth:`retry` or
        :meth:`correct_data` (8); ``service_backoff``: seconds before the first retry (60),
        doubling each time, up to an hour.

    The class is over 400 lines because it is the public API: one method per command, with its
    documentation and the checks of its arguments' shape; the work is in the command groups.
    """

    @_guarded
    def __init__(
        self,
        db: str | Path | Store = ":memory:",
        *,
        org: Organisation | str | Path | None = None,
        clock: Clock | None = None,
        calendar: WorkingCalendar | None = None,
        plugins: Iterable[object] = (),
        entry_points: bool = True,
        enabled_plugins: Sequence[str] | None = None,
        scripts: str = "restricted",
        script_time_budget: float = 1.0,
        durability: str = "normal",
        checkpoints: str = "background",
        busy_timeout: float = 5.0,
        supplement_window: int = rules.SUPPLEMENT_WINDOW_MINUTES,
        supplements_per_unit: int = 1,
        services: str = "inline",
        service_timeout: float = 30.0,
        service_timeouts: Mapping[str, float] | None = None,
        service_attempts: int = 8,
        service_backoff: float = 60.0,
    ) -> None:
        self._file = db.path if isinstance(db, Store) else arg.path(db, "db")
        if org is not None and not isinstance(org, Organisation):
            org = arg.path(org, "org")
        arg.check_options(
            clock=clock,
            calendar=calendar,
            plugins=plugins,
            texts={
                "scripts": scripts,
                "durability": durability,
                "checkpoints": checkpoints,
                "services": services,
            },
            script_time_budget=script_time_budget,
            counts={
                "supplement_window": supplement_window,
                "supplements_per_unit": supplements_per_unit,
            },
        )
        self.supplement_window = supplement_window
        self.supplements_per_unit = supplements_per_unit
        if enabled_plugins is not None:
            names = enabled_plugins
            if isinstance(names, str | bytes) or not isinstance(names, Iterable):
                raise InvalidData(
                    f"enabled_plugins: expected a list of names, got {arg.shown(enabled_plugins)}"
                )
            enabled_plugins = [arg.text(n, "enabled_plugins") for n in enabled_plugins]
        self.clock: Clock = clock or SystemClock()
        # A given organisation is checked before the store is opened (a bad file creates no
        # database); the stored one is read once it is.
        base = None if org is None else organisation.base(org)
        self.pm = setup.plugin_manager(
            plugins, entry_points=entry_points, enabled=enabled_plugins, org=base, db=self._file
        )
        self.hooks = HookCaller(self.pm)
        extra = [x for batch in self.hooks.call("organisation_units") for x in (batch or ())]
        known = None if base is None else organisation.given(base, extra)
        overlays = [o for batch in self.hooks.call("calendar_overlays") for o in (batch or ())]
        self.calendar = calendar or WorkingCalendar.default()
        if overlays:
            self.calendar = self.calendar.with_overlays(*self.calendar_overlays(overlays))
        self.scripts = scripts
        self.script_engine = make_script_engine(scripts, time_budget=script_time_budget)
        self.store = (
            db
            if isinstance(db, Store)
            else open_store(
                arg.path(db, "db"),
                durability=durability,
                checkpoints=checkpoints,
                busy_timeout=busy_timeout,
            )
        )
        services_options = {
            "mode": services,
            "timeout": service_timeout,
            "timeouts": service_timeouts,
            "attempts": service_attempts,
            "backoff": service_backoff,
        }
        try:
            self.org = organisation.opened(self.store, known, extra, iso(self.clock.now()) or "")
            self._build(scripts, services_options)
        except BaseException:
            if not isinstance(db, Store):  # a half-built Engine must not leave its file open
                self.store.close()
            raise

    def _build(self, scripts: str, services_options: Mapping[str, Any]) -> None:
        """The parts that stand on the store: procedures, the context, the command groups."""
        self.db: sqlite_utils.Database = self.store.db
        self._procedures = Procedures(
            self.store,
            self.hooks,
            org=self.org,
            restricted_scripts=scripts == "restricted",
            now=lambda: iso(self.clock.now()),
        )
        self._ctx = Context(
            store=self.store,
            org=self.org,
            clock=self.clock,
            calendar=self.calendar,
            hooks=self.hooks,
            procedures=self._procedures,
            workflows=Workflows(self._procedures, self.script_engine),
            supplement_window=self.supplement_window,
            supplements_per_unit=self.supplements_per_unit,
        )
        self._ctx.after_commit = AfterCommit(self._ctx)
        progress = Progress(self._ctx)
        service_steps = ServiceSteps(self._ctx, progress, **services_options)
        self._steps = StepCommands(self._ctx, progress, service_steps)
        self._services = service_steps
        self._worker = Worker(service_steps)
        self._legal = LegalTimeCommands(self._ctx, progress)
        self._apology = ApologyCommands(self._ctx)
        self._tick = TickCommands(self._ctx, progress)
        self._migrate = MigrateCommands(self._ctx, progress, service_steps)
        for folder in self.hooks.call("procedure_dirs"):
            for d in folder or ():
                self.load_procedures(d)

    @staticmethod
    @_guarded
    def calendar_overlays(items: Iterable[Any]) -> list[Overlay]:
        """Turn overlay paths into :class:`~lienthong.legaltime.overlays.Overlay` objects."""
        return [
            o if isinstance(o, Overlay) else Overlay.load(arg.path(o, "overlay")) for o in items
        ]

    # -- procedures ----------------------------------------------------------------------------
    @_guarded
    def load_procedure(self, source: str | Path | bytes, *, name: str | None = None) -> Procedure:
        """Parse a BPMN file and make it the current version of its procedure.

        The version (SHA-256 of the file) is stored once; loading the same file again changes
        nothing, but an older version loaded again is the current one again. A service task
        naming an operation no loaded plugin performs is an error here, not in the middle of a
        dossier.
        """
        if not isinstance(source, bytes):
            source = arg.path(source, "source")
        return self._procedures.load(source, name=arg.optional_text(name, "name"))

    @_guarded
    def load_procedures(self, folder: str | Path) -> list[Procedure]:
        """Load every ``*.bpmn`` file of a folder, in name order: all of them, or none.

        Every file is checked first; when any is refused, one :class:`ProcedureError` lists
        every refused file with all its problems, and no file of the folder is loaded.
        """
        path = Path(arg.path(folder, "folder"))
        try:
            found = path.is_dir()
        except OSError as e:  # a name too long, say
            raise ProcedureError(f"{path}: cannot read the folder: {e.strerror}") from None
        if not found:  # a mistyped folder must not load nothing, silently
            raise ProcedureError(f"{path}: no such folder of BPMN files")
        return self._procedures.load_folder(path)

    @_guarded
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
        return self._steps.receive(
            arg.text(procedure, "procedure"),
            applicant=arg.applicant(applicant),
            receiving_unit=arg.text(receiving_unit, "receiving_unit"),
            documents=arg.documents(documents),
            channel=arg.channel(channel),
            officer=arg.optional_text(officer, "officer"),
            routing=arg.routing(routing),
            data=data,
        )

    @_guarded
    def claim(self, dossier: str, step_id: int, officer: str) -> Step:
        """Take an open step of one's unit (nhận xử lý); no other officer may complete it then."""
        step_id = self._step_id(dossier, step_id)
        return self._steps.claim(dossier, step_id, arg.text(officer, "officer"))

    @_guarded
    def complete(
        self, dossier: str, step_id: int, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """Complete a step with its data; the dossier moves on as the BPMN says.

        The reception step of an online dossier accepts it (the legal clock starts now) unless
        ``data`` says ``{"accepted": False, "reason": ...}``, which refuses it (status 3).
        """
        step_id = self._step_id(dossier, step_id)
        return self._steps.complete(dossier, step_id, arg.text(officer, "officer"), data)

    @_guarded
    def return_result(
        self, dossier: str, officer: str, data: Mapping[str, Any] | None = None
    ) -> Dossier:
        """Return the result to the applicant (trả kết quả): complete the open return step."""
        return self._steps.return_result(
            arg.text(dossier, "dossier"), arg.text(officer, "officer"), data
        )

    @_guarded
    def withdraw(
        self, dossier: str, *, reason: str, officer: str | None = None, by_agency: bool = False
    ) -> Dossier:
        """The applicant withdraws the dossier (status 7), or the agency stops it (8, Mẫu 05).

        Open steps are cancelled; the workflow is cancelled; the dossier is closed.
        """
        return self._steps.withdraw(
            arg.text(dossier, "dossier"),
            reason=arg.text(reason, "reason"),
            officer=arg.optional_text(officer, "officer"),
            by_agency=by_agency,
        )

    @_guarded
    def retry(self, dossier: str, step_id: int, data: Mapping[str, Any] | None = None) -> Dossier:
        """Run a service step now, failed or not, however many attempts it had.

        ``data`` corrects the operation's input: its fields override the workflow data the
        step's operation gets, from now on (an audited ``data_corrected`` row). Raises
        :class:`PluginError` if the attempt fails (the failure is recorded on the step),
        :class:`NotAllowed` if a worker is running it; on success the dossier moves on.
        """
        return self._services.retry(dossier, self._step_id(dossier, step_id), data)

    @_guarded
    def correct_data(
        self, dossier: str, *, officer: str, data: Mapping[str, Any], reason: str
    ) -> Dossier:
        """Correct an open dossier's workflow data (an audited ``data_corrected`` row naming
        the officer and the reason): the fields of ``data`` override those the open steps and
        every later step see. The dossier's open service steps run again with it (now, or by
        a worker). The officer works at the receiving unit or at a unit with an open step, or
        heads one above; ``data`` is plain data with identifier field names (InvalidData)."""
        return self._services.correct_data(
            arg.text(dossier, "dossier"),
            officer=arg.text(officer, "officer"),
            data=data,
            reason=arg.text(reason, "reason"),
        )

    @_guarded
    def migrate(self, dossier: str, to_version: str | None = None, *, officer: str) -> Dossier:
        """Move an open dossier to another stored version of its procedure (its hash, or a
        unique prefix of 8 or more digits; ``None``: the current version), e.g. the one that
        corrects a condition it is stuck on. Steps keep their ids, due instants and history;
        an audited ``migrated`` row names both versions and the officer, the head or a deputy
        of the receiving unit or of a unit with an open step. :class:`MigrationRefused` names
        each step that ran or is open and has no counterpart there, and refuses the version
        the dossier runs already."""
        return self._migrate.migrate(
            arg.text(dossier, "dossier"),
            arg.optional_text(to_version, "to_version"),
            officer=arg.text(officer, "officer"),
        )

    @_guarded
    def work(self, now: datetime | None = None, *, limit: int = 100) -> WorkReport:
        """One pass of a service worker: run the service steps due by ``now`` (default: the
        clock) — opened for a worker, waiting for a retry, or left by a runner whose lease ran
        out — each under this engine's lease, so that several workers never run one step at
        once. ``lienthong work`` calls it in a loop."""
        arg.number(limit, "limit", integer=True)
        return self._worker.run_once(None if now is None else arg.instant(now, "now"), limit=limit)

    # -- legal time ----------------------------------------------------------------------------
    @_guarded
    def request_supplement(
        self, dossier: str, *, officer: str, missing: Sequence[str], reason: str
    ) -> Dossier:
        """Ask the applicant for missing documents (Mẫu 02; status 5).

        Allowed within the supplement window (3 working days by default) of the officer's unit
        receiving the dossier, once per unit per dossier. The legal deadline restarts in full
        when the supplement arrives (:meth:`receive_supplement`); with no supplement within
        15 days the dossier is closed by :meth:`tick`.
        """
        return self._legal.request_supplement(
            arg.text(dossier, "dossier"),
            officer=arg.text(officer, "officer"),
            missing=arg.texts(missing, "missing"),
            reason=arg.text(reason, "reason"),
        )

    @_guarded
    def receive_supplement(
        self, dossier: str, *, officer: str | None = None, documents: Sequence[str] = ()
    ) -> Dossier:
        """The complete supplement arrived: back to status 4, and the legal deadline restarts in
        full from now; open steps get their whole share again from now."""
        return self._legal.receive_supplement(
            arg.text(dossier, "dossier"),
            officer=arg.optional_text(officer, "officer"),
            documents=arg.texts(documents, "documents"),
        )

    @_guarded
    def start_obligation(self, dossier: str, *, officer: str, note: str = "") -> Dossier:
        """The applicant must pay a financial obligation (nghĩa vụ tài chính): the clock pauses."""
        return self._legal.start_obligation(
            arg.text(dossier, "dossier"),
            officer=arg.text(officer, "officer"),
            note=arg.text(note, "note"),
        )

    @_guarded
    def end_obligation(self, dossier: str, *, officer: str | None = None) -> Dossier:
        """The obligation is paid: every due instant shifts by the working time the pause lasted."""
        return self._legal.end_obligation(
            arg.text(dossier, "dossier"), officer=arg.optional_text(officer, "officer")
        )

    @_guarded
    def apologise(
        self, dossier: str, *, officer: str, reason: str, new_appointment: datetime
    ) -> Dossier:
        """The unit at fault apologises and sets a new appointment (Mẫu 04), once per dossier.

        ``officer`` is the head or a deputy of a unit at fault (:meth:`units_at_fault`): a unit
        whose own step is overdue or was done late; with none, a unit holding the open work;
        the lead agency where the procedure's ``lienthong:apology-by`` is ``lead``. A refusal
        (:class:`NotAllowed`) names the units at fault. An online dossier not yet accepted has
        no appointment to move (:class:`SlaError`). After the legal latest instant
        (``apology_required_at``, one working day before the appointment) it is accepted and
        recorded as late (``apology_late``). The dossier's lateness is still measured against
        the appointment no apology moved (``legal_appointment``).
        """
        return self._apology.apologise(
            arg.text(dossier, "dossier"),
            officer=arg.text(officer, "officer"),
            reason=arg.text(reason, "reason"),
            new_appointment=arg.instant(new_appointment, "new_appointment"),
        )

    @_guarded
    def tick(self, now: datetime | None = None) -> TickReport:
        """Act on every warning, escalation, apology reminder and supplement expiry due by ``now``.

        Idempotent; after a long gap each action fires once, in order of the instant it fell due
        (a step's next escalation level joins the queue in its place), stamped with that
        instant. Up to :data:`~lienthong.engine.tick.TICK_BATCH` actions share one commit. Each
        action is atomic: an action that raises is undone alone, the ones before it are
        committed, then the error propagates. Warnings and escalations that no plugin observes
        (no ``step_warning``, ``step_overdue``, ``step_escalated`` or ``audit_event``
        implementation) are applied set-wise, a run of them with a few statements.
        """
        return self._tick.tick(None if now is None else arg.instant(now, "now"))

    @_guarded
    def close(self) -> None:
        """Close the store."""
        self._ctx.workflows.clear()
        self._services.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
