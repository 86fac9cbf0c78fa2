"""What a province reads and files, built from the store (never from a running workflow): the
process control sheet (Mẫu 06) and the accountability reports (docs/reports.md).

Each report is a function of the database (a sqlite-utils ``Database``, a ``sqlite3``
connection, or a file path opened read-only) returning attrs records:

- :func:`officers` and :func:`units`: finished steps per officer and unit, and how they finished;
- :func:`returned`: dossiers sent back for a supplement two or more times, who asked and when;
- :func:`apologies`: late dossiers, the unit at fault, the apology (required, issued, late);
- :func:`period_report`: the period's dossiers on both clocks and the QĐ 766 indicators.

They take the same keywords: ``org`` (names beside codes), ``period`` (a :class:`Period`;
default: everything stored), ``unit`` and ``procedure`` (codes). :mod:`lienthong.reports.formats`
writes them as a table, CSV, JSON or an Excel workbook.
"""

from lienthong.reports.apologies import ApologyRow, Fault, apologies
from lienthong.reports.common import Names, Period, as_db, fields
from lienthong.reports.officers import OfficerRow, officers
from lienthong.reports.period import PeriodReport, period_report
from lienthong.reports.returned import ReturnedDossier, SupplementRequest, returned
from lienthong.reports.sheet import ControlSheet, SheetRow, control_sheet
from lienthong.reports.units import UnitRow, units

open_db = as_db

__all__ = [
    "ApologyRow",
    "ControlSheet",
    "Fault",
    "Names",
    "OfficerRow",
    "Period",
    "PeriodReport",
    "ReturnedDossier",
    "SheetRow",
    "SupplementRequest",
    "UnitRow",
    "apologies",
    "control_sheet",
    "fields",
    "officers",
    "open_db",
    "period_report",
    "returned",
    "units",
]
