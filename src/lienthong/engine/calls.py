"""Where a service step's operation runs: outside every transaction, within a time limit.

On a store with a file, an operation runs in a thread of the engine's own (one, reused: starting a
thread per call costs more than the call of a local plugin), on a connection of its own to the
file, while the engine's thread waits for it at most the operation's timeout. No transaction
is open when the call starts, so an agency that takes 8 seconds to answer holds no lock: other
commands, in this process or another, commit meanwhile.

What the operation writes to its ``db`` (a plugin's own tables) is kept if, and only if, its
result is: its first write begins the transaction (``BEGIN IMMEDIATE``) in which the engine then
records the result, and which it rolls back when the result is discarded or recording it fails.
A plugin should therefore write after the agency answered, not before: from its first write the
write lock is held until the result is recorded.

A thread cannot be killed. A call that runs out of time is *abandoned*: the engine records a
failure and goes on, with a new thread for the next call; the old thread runs the call to its end,
and then what it wrote is rolled back, its connection closed and its result ignored, and the
thread ends.

An in-memory store (nothing else can open it, so nothing can wait for its lock), or a store
built on a connection whose file lienthong does not know, has no second connection: there the
operation runs in the engine's own thread, inside the transaction that records its result, and
its timeout is not enforced.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from lienthong.errors import PluginError
from lienthong.store import tracker
from lienthong.store.sqlite import Store

#: Idle connections kept for the next operations (one is enough for the engine's own thread;
#: a few serve a burst of retries).
POOL_SIZE = 4
#: Connection settings an operation's connection copies from the store's own.
_PRAGMAS = (
    "synchronous",
    "busy_timeout",
    "foreign_keys",
    "wal_autocheckpoint",
    "journal_size_limit",
)


class OperationDatabase(sqlite_utils.Database):
    """The ``db`` an operation gets on a file store: its first write begins the transaction the
    result is recorded in (``BEGIN IMMEDIATE``), and nothing it writes commits by itself.

    sqlite-utils commits on its own what it writes outside a transaction (``atomic()``'s
    outermost level, ``execute()`` of a write): here a transaction is open by then, so they
    become part of it. Reads begin nothing, and hold no snapshot.
    """

    def _begin_for_write(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        self._begin_for_write()
        with super().atomic():  # inside a transaction: a savepoint
            yield self

    def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor:
        if _writes(sql):
            self._begin_for_write()
        return super().execute(sql, parameters)

    def executescript(self, sql: str) -> sqlite3.Cursor:
        # sqlite3's executescript() would COMMIT first: one statement at a time instead.
        cursor = self.conn.cursor()
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                cursor = self.execute(buf)
                buf = ""
        if buf.strip():
            cursor = self.execute(buf)
        return cursor


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})


def _writes(sql: str) -> bool:
    """Whether a statement may write (its first keyword; a ``WITH`` that names a write)."""
    words = re.findall(r"[A-Za-z]+", re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S))
    if not words:
        return False
    first = words[0].upper()
    if first == "WITH":
        return any(w.upper() in _WRITES for w in words)
    return first in _WRITES


class Attempt:
    """What one call returned, and the connection that holds what it wrote."""

    def __init__(self, result: Any, db: sqlite_utils.Database, calls: Calls) -> None:
        self.result = result
        self.db = db
        self._calls = calls
        self._closed = False

    @property
    def wrote(self) -> bool:
        """Whether a transaction is open on the attempt's connection: the result must be
        recorded there, in it."""
        return self.db.conn.in_transaction

    def commit(self) -> None:
        self.db.conn.commit()
        if self._calls.store.checkpointer is not None:
            self._calls.store.checkpointer.committed()

    def rollback(self) -> None:
        if self.db.conn.in_transaction:
            tracker.rolled_back(self.db)  # in memory, the engine's own connection
            self.db.conn.rollback()

    def close(self) -> None:
        """Undo what was not committed and give the connection back (once)."""
        if self._closed:
            return
        self._closed = True
        self.rollback()
        self._calls.give_back(self.db)


class Calls:
    """Runs operations the way the store allows (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = _file_of(store.db)
        self._idle: list[OperationDatabase] = []
        self._lock = threading.Lock()
        self._closed = False
        self._runner: _Runner | None = None

    @property
    def threaded(self) -> bool:
        """Whether operations run in a thread of their own, within their timeout."""
        return self.path is not None

    def call(
        self, fn: Callable[[sqlite_utils.Database], Any], timeout: float, what: str
    ) -> Attempt:
        """Run ``fn(db)``; :class:`PluginError` if it has not returned after ``timeout``
        seconds; ``fn``'s own exception if it raised (what it wrote undone)."""
        if not self.threaded:
            db = self.store.db
            if not db.conn.in_transaction:  # called after the command committed: it has not
                db.conn.execute("BEGIN")
                tracker.began(db)
            try:
                return Attempt(fn(db), db, self)
            except BaseException:
                if db.conn.in_transaction:
                    tracker.rolled_back(db)
                    db.conn.rollback()
                raise
        opdb = self._take()
        box = _Box()

        def target() -> None:
            try:
                out: tuple[Any, BaseException | None] = (fn(opdb), None)
            except BaseException as e:  # handed to the waiting thread
                out = (None, e)
            with box.lock:
                if box.abandoned:
                    _drop(opdb)  # nobody waits for it: undo its writes, close its connection
                    return
                box.out = out
            box.done.release()

        runner = self._runner
        if runner is None:
            runner = self._runner = _Runner()
        runner.jobs.put(target)
        box.done.acquire(timeout=timeout)
        with box.lock:
            if box.out is None:
                box.abandoned = True
        if box.out is None:
            # The thread is stuck in this call: it ends after it; the next call gets another.
            runner.retire(what)
            self._runner = None
            raise PluginError(
                f"{what} did not answer within {timeout:g} s: the call was abandoned (a call "
                "cannot be stopped: whatever it returns later is ignored)"
            )
        result, error = box.out
        if error is not None:
            self.give_back(opdb)
            raise error
        return Attempt(result, opdb, self)

    def _take(self) -> OperationDatabase:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        assert self.path is not None
        opener = getattr(self.store, "operation_database", None)
        if opener is not None:  # PostgreSQL: a connection of the store's pool
            opdb: OperationDatabase = opener()
            return opdb
        main = self.store.db.conn
        settings = {p: main.execute(f"PRAGMA {p}").fetchone()[0] for p in _PRAGMAS}
        # The connection is used by the call's thread, then by the engine's to record the
        # result: never by both at once. Python's implicit transactions (a bare INSERT) begin
        # IMMEDIATE, as atomic() does.
        conn = sqlite3.connect(
            self.path,
            timeout=settings["busy_timeout"] / 1000,
            check_same_thread=False,
            isolation_level="IMMEDIATE",
        )
        db = OperationDatabase(conn)
        for p, value in settings.items():
            db.execute(f"PRAGMA {p}={int(value)}")
        return db

    def give_back(self, db: sqlite_utils.Database) -> None:
        """An attempt's connection, back to the pool (or the store's own: nothing to do)."""
        if not isinstance(db, OperationDatabase):
            if db is not self.store.db:  # PostgreSQL's (PgOperationDatabase): to its pool
                db.close()
            return
        if db.conn.in_transaction:
            db.conn.rollback()
        with self._lock:
            if not self._closed and len(self._idle) < POOL_SIZE:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        """Close the idle connections; those of abandoned calls close when the calls end."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
        if self._runner is not None:
            self._runner.retire("closed")
            self._runner = None


class _Runner:
    """The thread operations run in, one call at a time."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="lienthong operations", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            job()

    def retire(self, why: str) -> None:
        """End after the call it is in, if any."""
        self.thread.name = f"lienthong operations (retired: {why})"
        self.jobs.put(None)


class _Box:
    """What a call's thread hands the waiting one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Released by the call's thread when it is done: a bare lock is the cheapest hand-over
        # between two threads (an Event builds a Condition and a waiter lock on every wait).
        self.done = threading.Lock()
        self.done.acquire()
        self.out: tuple[Any, BaseException | None] | None = None
        self.abandoned = False


def _drop(db: sqlite_utils.Database) -> None:
    try:
        if db.conn.in_transaction:
            db.conn.rollback()
        db.close()
    except sqlite3.Error:
        pass  # the connection is going away in any case


def _file_of(db: sqlite_utils.Database) -> str | None:
    """The file of the connection's main database; ``None`` in memory."""
    for _seq, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or None
    return None
