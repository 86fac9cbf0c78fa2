"""Shared fixtures: a fixed clock, the demo organisation, fresh stores (helpers in support.py)."""

from support import clock, engine, make_engine, org  # noqa: F401
