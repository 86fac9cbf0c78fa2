"""A copy of the database while officers work: SQLite's online backup, and the pending migrations.

:func:`backup` copies the file page by page with SQLite's backup API inside one read transaction
of the source, so that the copy is the database as it stood at one instant, every commit wholly
in it or wholly out, however many commands other processes commit meanwhile (WAL: a reader
neither waits for the writers nor stops them). The copy is written beside ``out`` under a
temporary name and renamed when complete, so that a failed or interrupted backup leaves no
half-written file where the backup should be.

:func:`pending_migrations` says, without changing the file, which migrations an Engine would
apply when it opens it (``lienthong db upgrade`` backs the file up first when there are some).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from lienthong.errors import StoreError
from lienthong.store import stores
from lienthong.store.schema import MIGRATIONS

#: Pages copied per step of the backup (4 KiB each): the progress is reported between steps.
PAGES_PER_STEP = 1024


def read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite file ``path`` (nothing it runs can change the
    file); :class:`~lienthong.errors.StoreError` if there is no such file."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"{p}: no such database file")
    try:
        return sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except (sqlite3.Error, ValueError) as e:
        raise StoreError(f"{p}: cannot open it: {e}") from None


def backup(
    source: str | Path,
    out: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the database ``source`` to the new file ``out``; return the pages copied.

    ``progress(done, total)`` is called between steps. An existing ``out`` is refused (a backup
    never overwrites one); the copy is checked (``PRAGMA quick_check``) before it takes its
    name. Errors are :class:`~lienthong.errors.StoreError` naming the file."""
    if stores.is_address(source):
        raise StoreError(
            f"{stores.hide_password(str(source))}: a PostgreSQL store is backed up by the "
            "server's own tools: pg_dump --format=custom, restored with pg_restore "
            "(docs/deploy.md); this command copies a SQLite file"
        )
    target = Path(out)
    if target.exists():
        raise StoreError(f"{target}: exists already; a backup never overwrites a file")
    if not target.parent.is_dir():
        raise StoreError(f"{target.parent}: no such folder for the backup")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    src = read_only(source)
    try:
        # One read transaction for the whole copy: every step reads the same snapshot, so the
        # copy is consistent and no commit of another process makes the copy start again.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        dst = sqlite3.connect(partial)
        try:
            copied = 0

            def step(status: int, remaining: int, total: int) -> None:
                nonlocal copied
                copied = total - remaining
                if progress is not None:
                    progress(copied, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{target}: the copy fails SQLite's check: {check}")
            # One self-contained file to keep or ship (the source's WAL mode would give every
            # reader of the copy a -wal and a -shm beside it); an Engine that opens it as its
            # database switches it back to WAL.
            dst.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            dst.close()
        src.execute("COMMIT")
        partial.replace(target)
        return copied
    except sqlite3.Error as e:
        raise StoreError(f"backup of {source} to {target}: {e}") from None
    except OSError as e:
        raise StoreError(f"{target}: {e.strerror or e}") from None
    finally:
        src.close()
        with contextlib.suppress(OSError):
            partial.unlink()


def pending_migrations(path: str | Path) -> list[str]:
    """The migrations an Engine would apply to the database file ``path``: all of them for a
    file that does not exist yet or has no lienthong tables. ``path`` may be a PostgreSQL
    address (:mod:`lienthong.store.stores`)."""
    if stores.is_address(path):
        return stores.pending_migrations(str(path))
    if not Path(path).exists():
        return [name for name, _ in MIGRATIONS]
    conn = read_only(path)
    try:
        has = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
        ).fetchone()
        done = {r[0] for r in conn.execute("SELECT name FROM _migrations")} if has else set()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a lienthong database ({e})") from None
    finally:
        conn.close()
    return [name for name, _ in MIGRATIONS if name not in done]
