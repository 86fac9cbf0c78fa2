"""Moved to :mod:`lienthong.bpmn.state`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.bpmn.state import *  # noqa: F403

alias(__name__)
