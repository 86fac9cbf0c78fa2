"""Fresh stores for tests on either database: with ``LIENTHONG_TEST_DB=postgresql://…`` set, the
SQLite file a test asks for becomes a schema of its own on that server (one schema per file
name, so a test that opens "its file" twice opens one store twice); without it, the file.

A schema per store, not a database: ``CREATE DATABASE`` copies a template and takes a fraction
of a second, ``CREATE SCHEMA`` takes a few milliseconds, and the pooled connections serve them
all (:mod:`lienthong.store.postgres`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The variable naming the PostgreSQL server the tests use (unset: SQLite only).
VARIABLE = "LIENTHONG_TEST_DB"

_made: list[str] = []


def server() -> str | None:
    """The PostgreSQL address the tests run on, or ``None`` for SQLite."""
    url = os.environ.get(VARIABLE, "").strip()
    return url or None


def store_for(path: str | Path, test: str = "") -> str:
    """What a test should open for the SQLite file ``path``: the file itself, or (on
    PostgreSQL) the address of an empty schema named after the file and the test."""
    url = server()
    if url is None or str(path) in (":memory:", ""):
        return str(path)
    name = "t_" + hashlib.sha256(f"{test}\0{Path(path).resolve()}".encode()).hexdigest()[:20]
    if name not in _made:
        _drop(url, name)
        _made.append(name)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}schema={name}"


def drop_all() -> None:
    """Drop the schemas made since the last call (a test's teardown)."""
    url = server()
    while _made:
        name = _made.pop()
        if url is not None:
            _drop(url, name)


def _drop(url: str, name: str) -> None:
    import psycopg

    from lienthong.store.postgres import _split

    conninfo, _ = _split(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def query(path: str | Path, sql: str, args: list[object] | None = None) -> list[tuple[object, ...]]:
    """The rows of a query on the store a test opened for ``path`` (:func:`store_for`), read
    without an engine: on PostgreSQL that test's schema, else the file."""
    url = server()
    if url is None:
        import sqlite3

        conn = sqlite3.connect(path)
        try:
            return [tuple(r) for r in conn.execute(sql, args or [])]
        finally:
            conn.close()
    from lienthong.store.stores import reader

    db = reader(store_for(path))
    try:
        return [tuple(r) for r in db.execute(sql, args or []).fetchall()]
    finally:
        db.close()
