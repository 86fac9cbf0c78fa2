"""Moved to :mod:`lienthong.testing.dossiers`; this alias goes in 0.3."""

from lienthong._moved import alias
from lienthong.testing.dossiers import *  # noqa: F403

alias(__name__)
