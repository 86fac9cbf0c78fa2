"""Moved to :mod:`lienthong.reports.sheet`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.reports.sheet import *  # noqa: F403

alias(__name__)
