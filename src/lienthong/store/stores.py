"""Which store an address names, opened without importing what the other one needs.

A PostgreSQL address (``postgresql://…`` or ``postgres://…``) opens a
:class:`~lienthong.store.postgres.PgStore`; anything else is a SQLite file (or ``:memory:``).
psycopg is an optional dependency (``pip install 'lienthong[postgres]'``): it is imported only
when an address names PostgreSQL, so SQLite needs no server and no driver.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from lienthong.errors import LienthongError, StoreError
from lienthong.store.addresses import hide_password, is_address
from lienthong.store.sqlite import Store

__all__ = ["exists", "hide_password", "is_address", "open_store", "pending_migrations", "reader"]


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


def pending_migrations(url: str) -> list[str]:
    """The migrations an Engine would apply to the store at a PostgreSQL address: all of them
    for one that holds no lienthong tables yet."""
    from lienthong.store.schema import MIGRATIONS

    try:
        db = reader(url)
    except StoreError:
        return [name for name, _ in MIGRATIONS]
    try:
        done = {r[0] for r in db.conn.execute("SELECT name FROM _migrations").fetchall()}
    finally:
        db.close()
    return [name for name, _ in MIGRATIONS if name not in done]


def exists(url: str) -> bool:
    """Whether the PostgreSQL address holds a lienthong store."""
    try:
        reader(url).close()
    except StoreError:
        return False
    return True
