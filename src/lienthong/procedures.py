"""Moved to :mod:`lienthong.bpmn.procedures`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.bpmn.procedures import *  # noqa: F403

alias(__name__)
