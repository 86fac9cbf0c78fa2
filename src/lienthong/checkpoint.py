"""Moved to :mod:`lienthong.store.checkpoint`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.store.checkpoint import *  # noqa: F403

alias(__name__)
