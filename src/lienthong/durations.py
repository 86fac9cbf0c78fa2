"""Moved to :mod:`lienthong.legaltime.durations`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.legaltime.durations import *  # noqa: F403

alias(__name__)
