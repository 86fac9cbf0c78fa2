"""WAL checkpoints in a thread of their own, so that commands do not wait for them.

In WAL mode a commit appends the changed pages to the ``-wal`` file; a *checkpoint* later copies
them into the database file. SQLite runs one by default inside whichever commit takes the WAL past
1,000 pages, and that commit then waits for two fsyncs, of the WAL and of the database file. On the
machines lienthong was measured on, that wait was about a sixth of all the time spent handing
dossiers over (``docs/benchmarks.md``).

SQLite's documentation suggests the alternative used here: turn the automatic checkpoint down and
run checkpoints from another thread. After every :data:`EVERY` commits the store wakes a daemon
thread, which runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own: PASSIVE never
blocks a reader or a writer, and the fsyncs happen off the command's thread (Python's sqlite3
releases the GIL while SQLite works).

Durability does not change: a commit is as durable as ``synchronous`` makes it before the
checkpoint copies anything. The committing connection keeps an automatic checkpoint at
:data:`FALLBACK_PAGES`, so the WAL stays bounded even if the thread falls behind.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

#: Commits between two background checkpoints: about 5,000 WAL pages (20 MiB) for lienthong's
#: commands. Fewer, larger checkpoints copy a page changed by many commands once, and cost the
#: commands less than SQLite's default of 1,000 pages (``docs/benchmarks.md``).
EVERY = 400
#: The committing connection checkpoints by itself past this many WAL pages (80 MiB at 4 KiB).
FALLBACK_PAGES = 20000
#: Bytes the WAL file is cut back to when it is reset after growing past them.
WAL_SIZE_LIMIT = 32 * 1024 * 1024
#: How long the idle thread waits before it checks whether its store still exists.
_IDLE_SECONDS = 5.0


class Checkpointer:
    """Counts a store's commits and has a thread checkpoint its WAL every :data:`EVERY` of them.

    The thread starts at the first checkpoint it is asked for, so a short-lived store never
    starts one. It holds no reference to the store: when the store is closed or collected, it
    ends.
    """

    def __init__(
        self, path: str, owner: object, every: int = EVERY, idle: float = _IDLE_SECONDS
    ) -> None:
        self.path = path
        self.every = every
        self.idle = idle
        self._owner = weakref.ref(owner)
        self._commits = 0
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._requested = 0
        self._finished = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        #: Checkpoints run so far, and the last one's (busy, WAL pages, pages copied) as SQLite
        #: reports them.
        self.runs = 0
        self.last: tuple[int, int, int] | None = None
        self.error: BaseException | None = None

    def committed(self) -> None:
        """Count one commit; every :attr:`every` commits, wake the thread."""
        self._commits += 1
        if self._commits >= self.every:
            self._commits = 0
            self.request()

    def request(self) -> None:
        """Ask for a checkpoint now (it runs in the thread)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=_run, args=(self,), name=f"lienthong-checkpoint {self.path}", daemon=True
            )
            self._thread.start()
        with self._done:
            self._requested += 1
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the thread has been started and has not ended."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the checkpoints requested so far have run; False if ``timeout`` passed."""
        with self._done:
            target = self._requested
            return self._done.wait_for(
                lambda: self._finished >= target
                or self._thread is None
                or not self._thread.is_alive(),
                timeout,
            )

    def close(self) -> None:
        """Stop the thread after the checkpoint it may be running."""
        self._stop = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._done:
            self._done.notify_all()


def _run(cp: Checkpointer) -> None:
    conn: Any = None
    try:
        conn = sqlite3.connect(cp.path, check_same_thread=False)
        while True:
            woken = cp._wake.wait(cp.idle)
            if cp._stop or cp._owner() is None:
                return
            if not woken:
                continue
            with cp._done:
                target = cp._requested
                cp._wake.clear()
            try:
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                cp.last = (int(row[0]), int(row[1]), int(row[2]))
                cp.runs += 1
            except sqlite3.Error as e:  # the committing connection's own checkpoint takes over
                cp.error = e
            with cp._done:
                cp._finished = target
                cp._done.notify_all()
    finally:
        if conn is not None:
            conn.close()
        with cp._done:
            cp._done.notify_all()
