"""Hook specifications: the plugin author's manual.

A plugin is a module or object with functions named after these hooks and decorated with
``lienthong.hookimpl``. Hooks are called with keyword arguments only; an implementation may accept
fewer arguments than the spec. Hooks marked *decides* stop at the first non-``None`` answer; the
others *observe* and go to every plugin. A hook that raises rolls the whole command back and
surfaces as a :class:`lienthong.errors.PluginError` naming the plugin, the hook and the dossier
(``portal_record_changed`` excepted: it runs after the commit, and its failures are recorded).

``db`` arguments are the store's ``sqlite_utils.Database`` inside the command's transaction: write a
plugin's own tables there and they commit or roll back with the command (``perform_operation``
and ``portal_record_changed`` say how theirs differ). Records (``dossier``,
``step``, ``procedure``) are frozen attrs objects: read them, don't keep them.

Every hook here has a section in ``docs/plugins.md``; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from lienthong.bpmn.procedures import Procedure
    from lienthong.legaltime.calendar import Overlay
    from lienthong.org import Officer, Unit
    from lienthong.store.records import Dossier, Step

hookspec = pluggy.HookspecMarker("lienthong")
hookimpl = pluggy.HookimplMarker("lienthong")


# ---------------------------------------------------------------------------------------------
# Loading: called once, when an Engine starts
# ---------------------------------------------------------------------------------------------
@hookspec
def procedure_dirs() -> Iterable[str | Path]:
    """Folders of BPMN files to load as procedures when an Engine starts.

    Returns: paths of folders; every ``*.bpmn`` file in them is loaded. Observes.
    """


@hookspec
def organisation_units() -> Iterable[Unit | Officer]:
    """Units and officers to add to the Engine's organisation when it starts.

    Returns: ``lienthong.Unit`` and ``lienthong.Officer`` objects. Observes.
    """


@hookspec
def calendar_overlays() -> Iterable[str | Path | Overlay]:
    """Working-calendar overlays (extra days off, make-up working days, working hours).

    Called when an Engine builds its calendar; overlays apply on top of lienthong's default in
    plugin registration order. Returns: TOML file paths or ``lienthong.Overlay``
    objects.
    Observes.
    """


@hookspec
def operations() -> Iterable[str]:
    """Names of the BPMN service-task operations this plugin performs.

    Called when a procedure is loaded: a service task whose ``lienthong:operation`` no plugin
    lists makes the procedure fail to load. Observes.
    """


# ---------------------------------------------------------------------------------------------
# Reception: inside ``Engine.receive``, before anything is stored
# ---------------------------------------------------------------------------------------------
@hookspec
def check_documents(
    procedure: Procedure, documents: tuple[Mapping[str, Any], ...], applicant: Mapping[str, Any]
) -> Iterable[str] | None:
    """Check the submitted documents (thành phần hồ sơ) against the procedure's required list.

    Returns: problems found, as sentences naming the document; any problem refuses the dossier with
    an ``InvalidData`` error and nothing is stored. Observes (every plugin's problems count).
    """


@hookspec(firstresult=True)
def compute_fees(
    procedure: Procedure, documents: tuple[Mapping[str, Any], ...], applicant: Mapping[str, Any]
) -> int | None:
    """The fee (phí, lệ phí) in VND for this dossier. Decides; the default is the procedure's
    ``lienthong:fee``."""


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def perform_operation(
    operation: str, dossier: Dossier, step: Step, data: Mapping[str, Any], db: Any
) -> Mapping[str, Any] | None:
    """Perform a BPMN service task's named operation.

    Called after the command that made the step ready has committed, with no transaction open, in
    a thread of its own and within a timeout. ``data`` is a copy of the workflow data so far;
    ``db`` a connection of the operation's own, whose first write begins the transaction its
    result is recorded in (docs/plugins.md). Return a mapping merged into the workflow data and
    kept on the step (it becomes the step's result), or ``None`` if this plugin does not perform
    ``operation``. Decides.
    """


@hookspec(firstresult=True)
def choose_assignee(
    dossier: Dossier, step: Step, unit: Unit, candidates: tuple[Officer, ...]
) -> str | None:
    """Choose the officer a new step is assigned to (the id of one of ``candidates``).

    Called when a step opens. ``None`` leaves the step in the unit's queue, where any of its
    officers may claim it. Decides.
    """


# ---------------------------------------------------------------------------------------------
# SLA: fired by ``Engine.tick``, each in the transaction of the action it reports
# ---------------------------------------------------------------------------------------------
@hookspec
def step_warning(dossier: Dossier, step: Step, at: datetime, db: Any) -> None:
    """A step will soon fall due (its warning instant ``at`` has passed). Observes."""


@hookspec
def step_overdue(dossier: Dossier, step: Step, at: datetime, db: Any) -> None:
    """A step passed its due instant ``at`` while still open. Observes."""


@hookspec
def step_escalated(
    dossier: Dossier,
    step: Step,
    level: int,
    unit: Unit,
    head: Officer | None,
    at: datetime,
    db: Any,
) -> None:
    """A late step went up to ``head``, the head of ``unit`` (level 1 = the step's own unit, 2 its
    parent, ...). Also called with the one-stop desk's head for a coordinating agency's late
    step. Observes."""


@hookspec
def apology_required(
    dossier: Dossier, unit: Unit, head: Officer | None, at: datetime, db: Any
) -> None:
    """The apology reminder: the dossier nears the latest instant for its apology
    (``dossier.apology_required_at``, one working day before the appointment) with work still
    open; ``unit`` is the unit at fault (or the lead agency, by the procedure's
    ``lienthong:apology-by``), whose head or a deputy must issue the apology with a new
    appointment (Mẫu 04); ``head`` its head. ``at`` is the reminder's instant, before the latest
    one. Observes."""


@hookspec
def apology_issued(
    dossier: Dossier,
    reason: str,
    new_appointment: datetime,
    signed_by: str,
    db: Any,
    old_appointment: datetime | None,
) -> None:
    """The apology and new appointment were accepted (once per dossier). ``old_appointment`` is
    the appointment it replaces; ``signed_by`` the signing officer's id. Observes."""


# ---------------------------------------------------------------------------------------------
# Lifecycle: inside the command that caused it
# ---------------------------------------------------------------------------------------------
@hookspec
def dossier_received(dossier: Dossier, db: Any) -> None:
    """A dossier was received and its first steps opened. Observes."""


@hookspec
def handoff(
    dossier: Dossier, from_step: Step | None, to_step: Step | None, at: datetime, db: Any
) -> None:
    """The dossier passed from one step (unit, officer) to the next (giao – nhận).

    ``from_step`` is ``None`` at reception; ``to_step`` is ``None`` when the closed step waits
    for a parallel branch. Observes.
    """


@hookspec
def supplement_requested(dossier: Dossier, request: Mapping[str, Any], db: Any) -> None:
    """The agency asked the applicant for missing documents (Mẫu 02; status 5). Observes."""


@hookspec
def supplement_received(dossier: Dossier, at: datetime, db: Any) -> None:
    """The complete supplement arrived; the legal deadline restarts from ``at``. Observes."""


@hookspec
def result_returned(dossier: Dossier, db: Any) -> None:
    """The result was returned to the applicant (status 10). Observes."""


@hookspec
def dossier_withdrawn(dossier: Dossier, reason: str, db: Any) -> None:
    """The applicant withdrew the dossier, or the agency stopped it (status 7 or 8). Observes."""


@hookspec
def audit_event(row: Mapping[str, Any], db: Any) -> None:
    """An audit row was appended (any event). Observes."""


# ---------------------------------------------------------------------------------------------
# Portal: after the command that changed the dossier has committed
# ---------------------------------------------------------------------------------------------
@hookspec
def portal_record_changed(
    record: Mapping[str, Any], progress: Sequence[Mapping[str, Any]], db: Any
) -> None:
    """The dossier's national-portal record changed: send it (lienthong never calls the portal).

    ``record`` is the dossier's ``DongBoHoSoMC`` record (:func:`lienthong.portal.portal_record`:
    domain.md §5's field names, instants as ``yyyyMMddHHmmss`` in Vietnamese time, status codes
    TrangThaiHoSo 1–10 as text) and ``progress`` all its progress records so far, in order
    (``CapNhatTienDoHoSoMC``: one per handoff and change of status), both as they stand once
    the command that changed them has committed: a receipt, a handoff, a supplement requested
    or received, a financial obligation started or ended, an apology, a return, a refusal, a
    withdrawal, a supplement's expiry (a tick), a migration. Called after that commit, never
    inside it, once per changed dossier (a tick's batch: each dossier it changed).

    ``db`` is the store's ``sqlite_utils.Database`` in a short transaction of its own, the
    plugin's calls each in a savepoint: write an outbox there and send from it; what a plugin
    writes commits unless it raises. An exception does not fail the command nor reach the
    caller: it is logged (logger ``lienthong.portal``) and recorded as a ``portal_hook_failed``
    audit row naming the plugin, its writes are undone, and the other plugins are still called.
    Each plugin gets its own copy of ``record`` and ``progress``. Observes.
    """


# ---------------------------------------------------------------------------------------------
# Audit checkpoints: outside any Engine command, from ``lienthong audit anchor``
# ---------------------------------------------------------------------------------------------
@hookspec
def audit_checkpoint(checkpoint: Mapping[str, Any]) -> None:
    """A signed checkpoint of the audit chain's head was made (:mod:`lienthong.store.anchors`):
    send it to a witness outside the database, where whoever can rewrite the file cannot
    reach it.

    Called by ``lienthong audit anchor`` after the checkpoint was written, and by
    ``lienthong.cli.audit.publish_checkpoint``; in no transaction, with no ``db``. ``checkpoint``
    is a copy of the dict written (``format``, ``version``, ``rows``, ``last_id``, ``head``, ``at``,
    ``public_key``, ``signature``). Observes.
    """
