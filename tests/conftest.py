"""Shared fixtures: a fixed clock, the demo organisation, fresh stores (helpers in support.py)."""

from support import clock, engine, make_engine, org, state_digests_checked  # noqa: F401
