"""The embedded store: one SQLite file through sqlite-utils.

Every engine command runs in one :meth:`Store.transaction`; the schema is in
:mod:`lienthong.store.schema`, the statements the engine runs in :mod:`lienthong.store.tables`
and :mod:`lienthong.store.due`, so that another store (PostgreSQL) can stand behind the same
functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from lienthong.errors import LienthongError
from lienthong.store import checkpoint
from lienthong.store.checkpoint import Checkpointer
from lienthong.store.schema import MIGRATIONS

DURABILITY = {
    # WAL + NORMAL: a commit survives a crash of the process; only a power cut or OS crash can
    # lose the last commits (never corrupt the file). FULL also fsyncs the WAL on every commit.
    "normal": "NORMAL",
    "full": "FULL",
}


CHECKPOINTS = ("background", "inline")


class Store:
    """One SQLite file (or ``:memory:``) holding everything lienthong keeps.

    :param durability: ``"normal"`` or ``"full"`` (see :data:`DURABILITY`).
    :param checkpoints: ``"background"`` (default): a thread copies the WAL into the database
        file every :data:`~lienthong.store.checkpoint.EVERY` commits, so that no command waits
        for it
        (:mod:`lienthong.store.checkpoint`); ``"inline"``: SQLite's default, inside a commit.
    :param checkpoint_every: commits between two background checkpoints.
    """

    def __init__(
        self,
        path: str | Path | sqlite_utils.Database,
        *,
        durability: str = "normal",
        checkpoints: str = "background",
        checkpoint_every: int = checkpoint.EVERY,
    ):
        if durability not in DURABILITY:
            raise LienthongError(f"durability={durability!r}: choose one of {sorted(DURABILITY)}")
        if checkpoints not in CHECKPOINTS:
            raise LienthongError(f"checkpoints={checkpoints!r}: choose one of {list(CHECKPOINTS)}")
        if isinstance(path, sqlite_utils.Database):
            self.db = path
        else:
            self.db = sqlite_utils.Database(str(path))
        self.path = None if isinstance(path, sqlite_utils.Database) else str(path)
        wal = self.path not in (None, ":memory:", "")
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={DURABILITY[durability]}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.durability = durability
        self.checkpointer: Checkpointer | None = None
        if wal and checkpoints == "background":
            self.db.execute(f"PRAGMA wal_autocheckpoint={checkpoint.FALLBACK_PAGES}")
            # After a burst (a large tick) has grown the WAL past what the thread keeps it to,
            # give the disk space back when the WAL is next reset.
            self.db.execute(f"PRAGMA journal_size_limit={checkpoint.WAL_SIZE_LIMIT}")
            self.checkpointer = Checkpointer(str(self.path), self, every=checkpoint_every)
        self.migrate()

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, in order; return their names."""
        done = set()
        if self.db["_migrations"].exists():
            done = {r["name"] for r in self.db["_migrations"].rows}
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.db.atomic():
                fn(self.db)
                self.db.table("_migrations").insert({"name": name}, pk="name")
            applied.append(name)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All of it is stored, or none of it; nested calls become savepoints."""
        outermost = not self.db.conn.in_transaction
        with self.db.atomic():
            yield self.db
        if outermost and self.checkpointer is not None:
            self.checkpointer.committed()

    def close(self) -> None:
        """Stop the checkpoint thread, then close the connection (SQLite checkpoints the rest)."""
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.db.close()


# Plain SQL for the hot path: sqlite-utils' Table.insert/update introspect the schema (PRAGMA
# queries) on every call, which costs more than the rest of a command.
_SQL_CACHE: dict[tuple[str, tuple[str, ...], str], str] = {}


@contextmanager
def savepoint(db: sqlite_utils.Database) -> Iterator[None]:
    """A savepoint inside the current transaction: an exception undoes what the block wrote.

    sqlite-utils' ``atomic()`` names each savepoint afresh, so SQLite prepares its statements
    anew every time; nested savepoints may share a name (each statement acts on the innermost),
    so this one is always ``lienthong``.
    """
    conn = db.conn
    conn.execute("SAVEPOINT lienthong")
    try:
        yield
    except BaseException:
        # A RAISE(ROLLBACK) in a trigger ends the whole transaction, savepoints included.
        if conn.in_transaction:
            conn.execute("ROLLBACK TO SAVEPOINT lienthong")
            conn.execute("RELEASE SAVEPOINT lienthong")
        raise
    conn.execute("RELEASE SAVEPOINT lienthong")


def insert(db: sqlite_utils.Database, table: str, values: Mapping[str, object]) -> int:
    """INSERT one row; return its rowid."""
    cols = tuple(values)
    key = (table, cols, "insert")
    sql = _SQL_CACHE.get(key)
    if sql is None:
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        _SQL_CACHE[key] = sql
    rowid = db.conn.execute(sql, list(values.values())).lastrowid
    assert rowid is not None
    return rowid


def update(
    db: sqlite_utils.Database, table: str, key_col: str, key: object, values: Mapping[str, object]
) -> None:
    """UPDATE one row by its key column."""
    cols = tuple(values)
    cache_key = (table, (*cols, key_col), "update")
    sql = _SQL_CACHE.get(cache_key)
    if sql is None:
        sql = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols)} WHERE {key_col} = ?"
        _SQL_CACHE[cache_key] = sql
    db.conn.execute(sql, [*values.values(), key])


def rows(db: sqlite_utils.Database, sql: str, args: Sequence[object] = ()) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts (without sqlite-utils' per-query overhead)."""
    cur = db.conn.execute(sql, args)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
