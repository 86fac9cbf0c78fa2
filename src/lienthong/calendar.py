"""Moved to :mod:`lienthong.legaltime.calendar`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.legaltime.calendar import *  # noqa: F403

alias(__name__)
