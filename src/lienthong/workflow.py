"""Moved to :mod:`lienthong.bpmn.workflow`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.bpmn.workflow import *  # noqa: F403

alias(__name__)
