"""Moved to :mod:`lienthong.store.records`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.store.records import *  # noqa: F403

alias(__name__)
