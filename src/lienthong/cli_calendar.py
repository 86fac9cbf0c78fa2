"""Moved to :mod:`lienthong.cli.calendar`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.cli.calendar import *  # noqa: F403

alias(__name__)
