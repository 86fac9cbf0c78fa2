"""lienthong: Vietnam's one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông),
run from BPMN files on working time, with a tamper-evident process control sheet.

The public API is what ``__all__`` lists; everything else may change without notice.
"""

from __future__ import annotations

from .audit import ControlSheet, VerifyResult
from .calendar import Overlay, WorkingCalendar
from .clock import VN_TZ, Clock, FixedClock, SystemClock
from .engine import Engine
from .errors import (
    AuditError,
    CalendarError,
    DossierClosed,
    DossierNotFound,
    InvalidData,
    LienthongError,
    NotAllowed,
    OrganisationError,
    PluginError,
    ProcedureError,
    ScriptError,
    SlaError,
    StepClosed,
    StepNotFound,
    UnknownProcedure,
)
from .hookspecs import hookimpl
from .org import Officer, Organisation, Unit
from .procedures import Lane, Procedure, StepSpec, load_procedure
from .records import Dossier, Step
from .status import Channel, ResultClass, Status
from .timers import TickReport

__all__ = [
    "VN_TZ",
    "AuditError",
    "CalendarError",
    "Channel",
    "Clock",
    "ControlSheet",
    "Dossier",
    "DossierClosed",
    "DossierNotFound",
    "Engine",
    "FixedClock",
    "InvalidData",
    "Lane",
    "LienthongError",
    "NotAllowed",
    "Officer",
    "Organisation",
    "OrganisationError",
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
    "SystemClock",
    "TickReport",
    "Unit",
    "UnknownProcedure",
    "VerifyResult",
    "WorkingCalendar",
    "hookimpl",
    "load_procedure",
]
