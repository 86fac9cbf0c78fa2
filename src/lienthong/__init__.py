"""lienthong: Vietnam's one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông),
run from BPMN files on working time, with a tamper-evident process control sheet.

The public API is what ``__all__`` lists; everything else may change without notice. The package
has one room per concern, each using only the rooms below it (a test walks the imports):

    cli, demo, testing   the command line, the simulated province, the users' test kit
    engine               Engine, a facade over command groups
    forms                the forms of Circular 03/2025 (Mẫu 01–07), as HTML and PDF, from the store
    reports              the control sheet and the statistics, from the store
    plugins              hook specs, the plugin manager, lienthong's own defaults
    bpmn  store          BPMN files -> specs, workflows, scripts; the seam to the database
    legaltime            calendar, deadline rules, clock, durations
    org  status  errors  the organisation, the national portal's codes, the errors

The modules at the top level besides these (``calendar.py``, ``hookspecs.py``, …) are aliases of
the old import paths, kept until 0.3 (:mod:`lienthong._moved`).
"""

from __future__ import annotations

from importlib import metadata as _metadata

from lienthong.bpmn.procedures import Lane, Procedure, StepSpec, load_procedure
from lienthong.engine import Engine, TickReport
from lienthong.errors import (
    AuditError,
    CalendarError,
    ConfigError,
    DossierClosed,
    DossierNotFound,
    FormError,
    FormNotApplicable,
    InternalError,
    InvalidData,
    LienthongError,
    MigrationRefused,
    NotAllowed,
    OrganisationError,
    OrganisationNotStored,
    PluginError,
    ProcedureError,
    ScriptError,
    SlaError,
    StepClosed,
    StepNotFound,
    StoreBusy,
    StoreError,
    TableError,
    UnknownProcedure,
)
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ, Clock, FixedClock, SystemClock
from lienthong.legaltime.overlays import Overlay
from lienthong.org import Delegation, Officer, Organisation, Unit
from lienthong.plugins.hookspecs import hookimpl
from lienthong.reports.sheet import ControlSheet
from lienthong.status import Channel, ResultClass, Status
from lienthong.store.audit import VerifyResult
from lienthong.store.records import Dossier, Step

try:
    #: The installed distribution's version (pyproject.toml), as ``lienthong --version`` says.
    __version__ = _metadata.version("lienthong")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "VN_TZ",
    "AuditError",
    "CalendarError",
    "Channel",
    "Clock",
    "ConfigError",
    "ControlSheet",
    "Delegation",
    "Dossier",
    "DossierClosed",
    "DossierNotFound",
    "Engine",
    "FixedClock",
    "FormError",
    "FormNotApplicable",
    "InternalError",
    "InvalidData",
    "Lane",
    "LienthongError",
    "MigrationRefused",
    "NotAllowed",
    "Officer",
    "Organisation",
    "OrganisationError",
    "OrganisationNotStored",
    "Overlay",
    "PluginError",
    "Procedure",
    "ProcedureError",
    "ResultClass",
    "ScriptError",
    "SlaError",
    "Status",
    "Step",
    "StepClosed",
    "StepNotFound",
    "StepSpec",
    "StoreBusy",
    "StoreError",
    "SystemClock",
    "TableError",
    "TickReport",
    "Unit",
    "UnknownProcedure",
    "VerifyResult",
    "WorkingCalendar",
    "hookimpl",
    "load_procedure",
]
