"""Moved to :mod:`lienthong.cli.plugins`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.cli.plugins import *  # noqa: F403

alias(__name__)
