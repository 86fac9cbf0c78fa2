"""The embedded store: one SQLite file through sqlite-utils.

Every engine command runs in one :meth:`Store.transaction`; the schema is in
:mod:`lienthong.store.schema`, the statements the engine runs in :mod:`lienthong.store.tables`
and :mod:`lienthong.store.due`, so that another store (PostgreSQL) can stand behind the same
functions.

Several processes may share one file. A command takes the write lock when it starts
(``BEGIN IMMEDIATE``), waiting up to ``busy_timeout`` seconds for it, so that what it reads is
what it writes over: two commands on one step run one after the other, and the second finds the
step closed. Were the lock taken at the first write, as ``BEGIN`` does, the later of two commands
that had both read would fail with ``SQLITE_BUSY`` in the middle of its work. A command that gets
no lock in time raises :class:`~lienthong.errors.StoreBusy`; any other SQLite error inside a
command becomes a :class:`~lienthong.errors.StoreError`; either way the command is undone.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlite_utils

from lienthong.errors import LienthongError, StoreBusy, StoreError
from lienthong.store import checkpoint, tracker
from lienthong.store.checkpoint import Checkpointer
from lienthong.store.schema import MIGRATIONS

DURABILITY = {
    # WAL + NORMAL: a commit survives a crash of the process; only a power cut or OS crash can
    # lose the last commits (never corrupt the file). FULL also fsyncs the WAL on every commit.
    "normal": "NORMAL",
    "full": "FULL",
}


CHECKPOINTS = ("background", "inline")

#: Seconds a command waits for the write lock before it gives up with StoreBusy. Commands hold
#: the lock for milliseconds; a wait this long means something holds it far longer.
BUSY_TIMEOUT = 5.0
#: SQLite's primary result codes for a lock held by another connection (the extended codes,
#: SQLITE_BUSY_SNAPSHOT and the like, carry one of them in their low byte).
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
#: Seconds between two tries to take the write lock, at random between these.
_PAUSE = (0.0005, 0.001)


class Store:
    """One SQLite file (or ``:memory:``) holding everything lienthong keeps.

    :param durability: ``"normal"`` or ``"full"`` (see :data:`DURABILITY`).
    :param checkpoints: ``"background"`` (default): a thread copies the WAL into the database
        file every :data:`~lienthong.store.checkpoint.EVERY` commits, so that no command waits
        for it
        (:mod:`lienthong.store.checkpoint`); ``"inline"``: SQLite's default, inside a commit.
    :param checkpoint_every: commits between two background checkpoints.
    :param busy_timeout: seconds a command waits for the write lock held by another connection
        before it raises :class:`~lienthong.errors.StoreBusy` (:data:`BUSY_TIMEOUT`).
    """

    def __init__(
        self,
        path: str | Path | sqlite_utils.Database,
        *,
        durability: str = "normal",
        checkpoints: str = "background",
        checkpoint_every: int = checkpoint.EVERY,
        busy_timeout: float = BUSY_TIMEOUT,
    ):
        if durability not in DURABILITY:
            raise LienthongError(f"durability={durability!r}: choose one of {sorted(DURABILITY)}")
        if checkpoints not in CHECKPOINTS:
            raise LienthongError(f"checkpoints={checkpoints!r}: choose one of {list(CHECKPOINTS)}")
        if (
            not isinstance(busy_timeout, int | float)
            or isinstance(busy_timeout, bool)
            or not math.isfinite(busy_timeout)
            or not 0 <= busy_timeout <= 86400
        ):
            raise LienthongError(
                f"busy_timeout={busy_timeout!r}: give the seconds to wait for the write lock, "
                "from 0 to 86400"
            )
        if isinstance(path, sqlite_utils.Database):
            self.db = path
        else:
            self.db = sqlite_utils.Database(str(path))
        self.path = None if isinstance(path, sqlite_utils.Database) else str(path)
        self.where = self.path or _file_of(self.db.conn)
        # Nothing else can open a private in-memory database: no lock to wait for.
        self._shared = self.where not in (":memory:", "")
        self.busy_timeout = float(busy_timeout)
        self._wait = f"PRAGMA busy_timeout={round(self.busy_timeout * 1000)}"
        self.durability = durability
        self.checkpointer: Checkpointer | None = None
        wal = self.path not in (None, ":memory:", "")
        try:
            # First: switching a new file to WAL takes a lock another process may hold.
            self.db.execute(self._wait)
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={DURABILITY[durability]}")
            self.db.execute("PRAGMA foreign_keys=ON")
            if wal and checkpoints == "background":
                self.db.execute(f"PRAGMA wal_autocheckpoint={checkpoint.FALLBACK_PAGES}")
                # After a burst (a large tick) has grown the WAL past what the thread keeps it
                # to, give the disk space back when the WAL is next reset.
                self.db.execute(f"PRAGMA journal_size_limit={checkpoint.WAL_SIZE_LIMIT}")
        except sqlite3.Error as e:
            raise self._error(e, "opening the store") from e
        self.migrate()
        if wal and checkpoints == "background":
            self.checkpointer = Checkpointer(str(self.path), self, every=checkpoint_every)

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, in order; return their names.

        Processes opening one file at once may all find a migration to apply: each applies it
        under the write lock, after looking again whether another one has meanwhile."""
        applied = []
        for name, fn in MIGRATIONS:
            if name in self._migrated():
                continue
            with self.transaction() as db:
                if name in self._migrated():
                    continue
                fn(db)
                db.table("_migrations").insert({"name": name}, pk="name")
            applied.append(name)
        return applied

    def _migrated(self) -> set[str]:
        try:
            if not self.db["_migrations"].exists():
                return set()
            return {r["name"] for r in self.db["_migrations"].rows}
        except sqlite3.Error as e:
            raise self._error(e, "reading the applied migrations") from e

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All of it is stored, or none of it; nested calls become savepoints.

        The outermost call takes the write lock first (see the module's docstring), trying
        again for ``busy_timeout`` seconds while another connection holds it: nothing has run
        yet, so trying again is always safe. That is the only retry. Once the body has run, it
        has called plugins (an agency's operation, notifications) that running it again would
        call twice, so a failure after that is raised, not repeated."""
        conn = self.db.conn
        if conn.in_transaction:
            try:
                with savepoint(self.db):
                    yield self.db
            except sqlite3.Error as e:
                raise self._error(e, "a part of this command") from e
            return
        self._begin(conn)
        tracker.began(self.db)
        try:
            yield self.db
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise self._error(e, "this command") from e
        except BaseException:
            self._rollback()
            raise
        if self.checkpointer is not None:
            self.checkpointer.committed()

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """One snapshot for all the statements of a read-only method: a deferred ``BEGIN``,
        then ``COMMIT``. In WAL mode the first statement fixes what the block sees, so a command
        another connection commits meanwhile is seen wholly or not at all; and it takes no
        write lock, so those commands go on. Inside a command (or another read) the open
        transaction is already one snapshot, its own writes included: nothing is added."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self.db
            return
        try:
            conn.execute("BEGIN")
            yield self.db
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise self._error(e, "this read") from e
        except BaseException:
            self._rollback()
            raise

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, asking again every millisecond or so until ``busy_timeout``.

        SQLite's own busy handler would wait too, but it sleeps longer and longer (up to
        100 ms at a time) and only takes the lock if it is free when it wakes: with a few
        processes busy, one of them waited over a second while the others took turns
        (``docs/benchmarks.md``). Short pauses keep the longest wait near the length of a few
        commands. The connection keeps ``busy_timeout`` for every other statement."""
        if not self._shared:
            conn.execute("BEGIN IMMEDIATE")
            return
        conn.execute("PRAGMA busy_timeout=0")
        try:
            started: float | None = None
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.Error as e:
                    if not _busy(e):
                        raise self._error(e, "this command") from e
                    now = time.perf_counter()
                    if started is None:
                        started = now
                    waited = now - started
                    if waited >= self.busy_timeout:
                        raise self._error(e, "this command", waited) from e
                    # At random, so that waiting processes do not wake in step.
                    pause = random.uniform(*_PAUSE)
                    time.sleep(min(pause, self.busy_timeout - waited))
        finally:
            conn.execute(self._wait)

    def _rollback(self) -> None:
        tracker.rolled_back(self.db)
        # SQLite may already have ended the transaction (a RAISE(ROLLBACK), a full disk); a
        # ROLLBACK that fails must not hide the error that caused it.
        if self.db.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.db.conn.execute("ROLLBACK")

    def _error(self, e: sqlite3.Error, doing: str, waited: float | None = None) -> StoreError:
        """The lienthong error for SQLite's ``e``, raised while ``doing``."""
        name = getattr(e, "sqlite_errorname", None) or type(e).__name__
        if _busy(e):
            if waited is not None:
                return StoreBusy(
                    f"{self.where}: the database is locked: {doing} waited {waited:.1f} s "
                    f"(busy_timeout={self.busy_timeout:g} s) for the write lock, which another "
                    "connection held all along, and did not start; nothing was stored. Run the "
                    "command again; if this recurs, find what holds the lock that long (a long "
                    "command, or a transaction left open, in another process or tool) or give "
                    "the Engine a longer busy_timeout."
                )
            return StoreBusy(
                f"{self.where}: the database was locked by another connection ({name}: {e}) "
                f"during {doing}; the command was undone and nothing was stored. Run it again."
            )
        return StoreError(
            f"{self.where}: SQLite failed {doing} ({name}: {e}); the command was undone and "
            "nothing was stored."
        )

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
        tracker.rolled_back(db)
        # A RAISE(ROLLBACK) in a trigger ends the whole transaction, savepoints included.
        if conn.in_transaction:
            conn.execute("ROLLBACK TO SAVEPOINT lienthong")
            conn.execute("RELEASE SAVEPOINT lienthong")
        raise
    conn.execute("RELEASE SAVEPOINT lienthong")


def _busy(e: sqlite3.Error) -> bool:
    """Whether SQLite refused for a lock another connection holds."""
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _file_of(conn: sqlite3.Connection) -> str:
    """The file of a connection's main database (``:memory:`` for none), for messages."""
    with suppress(sqlite3.Error):
        for _seq, name, file in conn.execute("PRAGMA database_list"):
            if name == "main":
                return str(file) or ":memory:"
    return "the database"


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
