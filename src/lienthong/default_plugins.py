"""Moved to :mod:`lienthong.plugins.defaults`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.plugins.defaults import *  # noqa: F403

alias(__name__)
