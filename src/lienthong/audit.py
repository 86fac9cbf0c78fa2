"""Moved: the chain to :mod:`lienthong.store.audit`, the control sheet to
:mod:`lienthong.reports.sheet`; this re-export goes in 0.3."""

from lienthong._moved import warn
from lienthong.reports.sheet import (  # noqa: F401
    SHEET_EVENTS,
    ControlSheet,
    SheetRow,
    fmt_instant,
    result_label,
)
from lienthong.store.audit import *  # noqa: F403
from lienthong.store.audit import FIELDS, GENESIS, canonical  # noqa: F401

warn(__name__)
