"""Moved to :mod:`lienthong.legaltime.clock`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.legaltime.clock import *  # noqa: F403

alias(__name__)
