"""Moved to :mod:`lienthong.plugins.hookspecs`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.plugins.hookspecs import *  # noqa: F403

alias(__name__)
