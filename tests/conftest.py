"""Shared fixtures: a fixed clock, the demo organisation, fresh stores (helpers in support.py)."""

import pytest

from lienthong.testing.databases import server
from support import clock, engine, make_engine, org, state_digests_checked  # noqa: F401


def pytest_report_header() -> str:
    url = server()
    return f"stores: PostgreSQL ({url})" if url else "stores: SQLite (LIENTHONG_TEST_DB unset)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On PostgreSQL, skip the tests about SQLite files themselves (marked ``sqlite_only``)."""
    if server() is None:
        return
    skip = pytest.mark.skip(reason="about a SQLite file itself: runs on SQLite only")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)
