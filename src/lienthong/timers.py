"""Moved to :mod:`lienthong.engine.tick`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.engine.tick import *  # noqa: F403

alias(__name__)
