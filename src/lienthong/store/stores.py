"""Which store an address names, opened without importing what the other one needs.

A PostgreSQL address (``postgresql://…`` or ``postgres://…``) opens a
:class:`~lienthong.store.postgres.PgStore`; anything else is a SQLite file (or ``:memory:``).
psycopg is an optional dependency (``pip install 'lienthong[postgres]'``): it is imported only
when an address names PostgreSQL, so SQLite needs no server and no driver.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from lienthong.errors import LienthongError
from lienthong.store.sqlite import Store


def is_address(db: object) -> bool:
    """Whether ``db`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def _postgres() -> Any:
    try:
        from lienthong.store import postgres
    except ImportError as e:
        raise LienthongError(
            f"a PostgreSQL store needs psycopg 3 and psycopg_pool ({e}): install "
            "lienthong[postgres]"
        ) from None
    return postgres


def open_store(db: str, **options: Any) -> Store:
    """The store ``db`` names: a PostgreSQL address or a SQLite file."""
    if is_address(db):
        store: Store = _postgres().PgStore(db, **options)
        return store
    return Store(db, **options)


def reader(url: str) -> sqlite_utils.Database:
    """A read-only connection to the lienthong store at a PostgreSQL address (no migration):
    for reports and the commands that only read."""
    db: sqlite_utils.Database = _postgres().reader(url)
    return db
