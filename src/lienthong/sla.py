"""Moved to :mod:`lienthong.legaltime.rules`; this re-export goes in 0.3.

:func:`kpi_classify` keeps its old signature here (it took the dossier record; the rule now takes
plain values).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lienthong._moved import warn
from lienthong.legaltime import rules
from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.rules import *  # noqa: F403

warn(__name__)


def kpi_classify(  # type: ignore[no-redef]
    dossier: Any, resolved: datetime, calendar: WorkingCalendar
) -> str | None:
    """:func:`lienthong.legaltime.rules.kpi_classify` of a dossier record."""
    return rules.kpi_classify(
        resolved,
        calendar,
        original_appointment=dossier.original_appointment,
        waiting_minutes=dossier.kpi_waiting_minutes,
        supplements=dossier.supplements,
    )
