"""Moved to :mod:`lienthong.bpmn.scripts`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.bpmn.scripts import *  # noqa: F403

alias(__name__)
