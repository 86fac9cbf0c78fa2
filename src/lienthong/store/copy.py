"""A whole store copied into a new one, SQLite to PostgreSQL or back: ``lienthong db copy``.

A province that began on one machine's SQLite file and moves to several servers sharing one
PostgreSQL (docs/deploy.md) takes its dossiers, steps, audit chain, procedures, organisation and
its plugins' tables with it. What the copy must keep is what the audit vouches for: every row
as it was, byte for byte, so that the chain's hashes and the state digests of
``audit verify --deep`` hold on the new store as on the old, and the signed checkpoints
(``audit verify --anchors``) still name its rows and head.

How:

- the source is read in one snapshot (:func:`~lienthong.store.audit.snapshot`), read-only and
  unmigrated, while engines may go on writing to it; what they commit after the snapshot is not
  in the copy (stop them for the move);
- the source must be at this lienthong's schema (``lienthong db upgrade`` first), and the target
  new or empty: it is opened as a store (created and migrated), then every table is written in
  one transaction, parents before children (the foreign keys are checked as rows arrive);
- a table the target lacks (a plugin's, made on first use) is made there first, from the
  source's own ``CREATE TABLE`` (translated for PostgreSQL) or, from PostgreSQL, from its
  columns;
- on PostgreSQL, each identity column's sequence is moved past the ids copied, so that the next
  dossier's steps and audit rows get new ids;
- before that transaction commits, the copy is checked inside it: each table's rows, as a
  multiset of row hashes, are the source's; the audit chain verifies, deep (every dossier's rows
  against its last audit row), and ends at the source's head. Anything else rolls it all back:
  the target is left as it was (a SQLite file this made is removed).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from lienthong.errors import StoreError
from lienthong.store import audit, stores
from lienthong.store.backup import read_only
from lienthong.store.schema import MIGRATIONS

__all__ = ["CHUNK", "Copied", "CopyReport", "copy_store"]

#: Rows read from the source and written to the target at a time.
CHUNK = 2000
#: Tables that are the store's own bookkeeping, not data: the target has its own.
_NOT_COPIED = frozenset({"_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4"})
#: The tables a refusal of a store in use names first.
_FIRST = ("audit", "dossiers")
#: Column types for a table made from its columns alone (a PostgreSQL source).
_TYPES: dict[str, type] = {"INTEGER": int, "REAL": float, "BLOB": bytes, "TEXT": str}


@attrs.frozen
class Copied:
    """One table copied: its name and rows; ``made``: it did not exist in the target."""

    table: str
    rows: int
    made: bool = False


@attrs.frozen
class CopyReport:
    """What :func:`copy_store` copied and checked."""

    source: str
    target: str
    tables: tuple[Copied, ...]
    audit_rows: int
    head: str
    dossiers_checked: int

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def copy_store(
    source: str | Path,
    target: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy the lienthong store ``source`` into ``target`` (a new SQLite file, or a PostgreSQL
    address whose schema holds no lienthong data yet); see the module's docstring.

    ``progress(rows_done, rows_total)`` is called after each chunk. Errors are
    :class:`~lienthong.errors.StoreError` naming the store and what was wrong; the source is
    never written, and the target is left as it was."""
    src_name, dst_name = str(source), str(target)
    shown_src, shown_dst = stores.hide_password(src_name), stores.hide_password(dst_name)
    if _same(src_name, dst_name):
        raise StoreError(f"{shown_dst}: the target is the source; a copy goes to another store")
    created = not stores.is_address(dst_name) and not Path(dst_name).exists()
    if not created and not stores.is_address(dst_name):
        _check_lienthong_file(dst_name, shown_dst)
    src = _open_source(src_name, shown_src)
    try:
        with audit.snapshot(src):
            _check_schema(src, shown_src)
            plan = _plan(src)
            totals = {t: src.table(t).count for t in plan}
            try:
                return _copy(src, dst_name, plan, totals, shown_src, shown_dst, progress)
            except BaseException:
                if created:
                    _remove(Path(dst_name))
                raise
    except sqlite3.Error as e:  # reading the source file (the target's are the store's errors)
        raise StoreError(f"{shown_src}: SQLite failed reading it ({e}); nothing was copied") from e
    finally:
        src.close()


def _copy(
    src: sqlite_utils.Database,
    dst_name: str,
    plan: list[str],
    totals: dict[str, int],
    shown_src: str,
    shown_dst: str,
    progress: Callable[[int, int], None] | None,
) -> CopyReport:
    store = stores.open_store(dst_name)
    try:
        with store.transaction() as db:
            _check_empty(db, plan, shown_dst)
            done = 0
            total = sum(totals.values())
            copied = []
            digests: dict[str, tuple[int, int]] = {}
            for table in plan:
                made = _make_table(src, db, table)
                columns = list(_types(src, table))
                n, digest = 0, 0
                for rows in _chunks(src, table, columns):
                    _insert(db, table, columns, rows)
                    digest = _add_rows(digest, rows)  # the rows as read, before the target has them
                    n += len(rows)
                    done += len(rows)
                    if progress is not None:
                        progress(done, total)
                copied.append(Copied(table, n, made))
                digests[table] = (n, digest)
            if _postgres(db):
                _move_sequences(db, plan)
            checked = _check_copy(src, db, digests, shown_src, shown_dst)
            head = _head(db)  # the copy's, which the check found equal to the source's
    finally:
        store.close()
    return CopyReport(
        source=shown_src,
        target=shown_dst,
        tables=tuple(copied),
        audit_rows=checked.rows,
        head=head,
        dossiers_checked=checked.state.dossiers if checked.state is not None else 0,
    )


# -- the source --------------------------------------------------------------------------------
def _open_source(name: str, shown: str) -> sqlite_utils.Database:
    if stores.is_address(name):
        return stores.reader(name)
    conn = read_only(name)
    try:
        conn.execute("SELECT 1 FROM _migrations LIMIT 1")
    except sqlite3.Error as e:
        conn.close()
        raise StoreError(f"{shown}: not a lienthong database ({e})") from None
    return sqlite_utils.Database(conn)


def _check_schema(src: sqlite_utils.Database, shown: str) -> None:
    """The source is at this lienthong's schema: every migration applied, none unknown."""
    done = {r[0] for r in src.conn.execute("SELECT name FROM _migrations")}
    known = [name for name, _ in MIGRATIONS]
    missing = [name for name in known if name not in done]
    if missing:
        raise StoreError(
            f"{shown}: lacks the migrations {', '.join(missing)}; bring it up to this "
            f"lienthong first (lienthong db upgrade --db {shown}), then copy it"
        )
    unknown = sorted(done - set(known))
    if unknown:
        raise StoreError(
            f"{shown}: has migrations this lienthong does not know ({', '.join(unknown)}): "
            "copy it with the lienthong that made them"
        )


def _plan(src: sqlite_utils.Database) -> list[str]:
    """The source's tables to copy, each after the tables its foreign keys name."""
    tables = sorted(
        name
        for name in src.table_names()
        if name not in _NOT_COPIED and not name.startswith("sqlite_")
    )
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in _foreign_keys(src, tables):
        if child != parent and parent in parents:
            parents[child].add(parent)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(tables):
        ready = [t for t in tables if t not in placed and parents[t] <= placed]
        if not ready:  # a cycle of foreign keys: whatever is left, in name order
            ready = [t for t in tables if t not in placed]
        for t in ready:
            order.append(t)
            placed.add(t)
    return order


def _postgres(db: sqlite_utils.Database) -> bool:
    """Whether ``db`` is a PostgreSQL store's (its adapter answers SQLite's catalogue PRAGMAs
    only in part: no foreign keys, no primary keys)."""
    return type(db).__module__.startswith("lienthong.store.pg")


def _foreign_keys(db: sqlite_utils.Database, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(table, the table one of its foreign keys names)."""
    if _postgres(db):
        return [
            (r[0], r[1])
            for r in db.conn.execute(
                "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.constraint_column_usage ccu "
                "ON ccu.constraint_name = tc.constraint_name "
                "AND ccu.constraint_schema = tc.constraint_schema "
                "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
            )
        ]
    return [(t, fk.other_table) for t in tables for fk in db.table(t).foreign_keys]


def _primary_key(db: sqlite_utils.Database, table: str) -> list[str]:
    if _postgres(db):
        return [
            r[0]
            for r in db.conn.execute(
                "SELECT kcu.column_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.key_column_usage kcu "
                "ON kcu.constraint_name = tc.constraint_name "
                "AND kcu.constraint_schema = tc.constraint_schema "
                "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() "
                "AND tc.table_name = ? ORDER BY kcu.ordinal_position",
                [table],
            )
        ]
    t = db.table(table)
    return [] if t.use_rowid else t.pks


def _types(db: sqlite_utils.Database, table: str) -> dict[str, str]:
    """Column name -> its declared type as SQLite names it (the PostgreSQL adapter answers
    ``PRAGMA table_info`` with SQLite's names)."""
    return {c[1]: c[2] for c in db.conn.execute(f"PRAGMA table_info({_q(table)})")}


def _chunks(src: sqlite_utils.Database, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
    cur = src.conn.execute(f"SELECT {', '.join(map(_q, columns))} FROM {_q(table)}")
    while rows := cur.fetchmany(CHUNK):
        yield [tuple(r) for r in rows]


def _head(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else audit.GENESIS


# -- the target --------------------------------------------------------------------------------
def _check_lienthong_file(name: str, shown: str) -> None:
    """An existing target file is a lienthong store (then it must be empty): opening another
    program's database as a store would give it lienthong's tables."""
    conn = read_only(name)
    try:
        conn.execute("SELECT 1 FROM _migrations LIMIT 1")
    except sqlite3.Error:
        raise StoreError(
            f"{shown}: exists and is not a lienthong database; a copy goes to a new file"
        ) from None
    finally:
        conn.close()


def _check_empty(db: sqlite_utils.Database, plan: list[str], shown: str) -> None:
    """Nothing to overwrite or merge: the target's copies of the tables hold no rows."""
    have = set(db.table_names())
    full = [(t, db.table(t).count) for t in plan if t in have]
    # The two an operator knows first; then the rest by name.
    full = sorted(((t, n) for t, n in full if n), key=lambda tn: (tn[0] not in _FIRST, tn[0]))
    if full:
        listed = ", ".join(f"{t}: {n}" for t, n in full[:3]) + (", …" if len(full) > 3 else "")
        raise StoreError(
            f"{shown}: holds data already (rows in {listed}); a copy goes to a new or empty store, "
            "never into one in use"
        )


def _make_table(src: sqlite_utils.Database, db: sqlite_utils.Database, table: str) -> bool:
    """Make ``table`` in the target if it lacks it (a plugin's); whether it was made."""
    if db.table(table).exists():
        return False
    sql = src.conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    if sql is not None and sql[0]:
        db.execute(sql[0])  # SQLite's text; the PostgreSQL store translates it
        for (index_sql,) in src.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            [table],
        ):
            db.execute(index_sql)
        return True
    columns = {c: _TYPES.get(str(kind).upper(), str) for c, kind in _types(src, table).items()}
    pk = _primary_key(src, table)
    db.table(table).create(columns, pk=pk[0] if len(pk) == 1 else (tuple(pk) or None))
    return True


def _insert(db: sqlite_utils.Database, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    marks = ", ".join("?" * len(columns))
    db.conn.executemany(
        f"INSERT INTO {_q(table)} ({', '.join(map(_q, columns))}) VALUES ({marks})", rows
    )


def _move_sequences(db: sqlite_utils.Database, plan: list[str]) -> None:
    """Each identity column's next value after the largest id copied (PostgreSQL)."""
    for table in plan:
        for column in _primary_key(db, table):
            seq = db.conn.execute(
                "SELECT pg_get_serial_sequence(?, ?)", [_q(table), column]
            ).fetchone()[0]
            if seq is None:  # not an identity column
                continue
            top = db.conn.execute(f"SELECT max({_q(column)}) FROM {_q(table)}").fetchone()[0]
            if top is not None:
                db.conn.execute("SELECT setval(?, ?)", [seq, top])


def _check_copy(
    src: sqlite_utils.Database,
    db: sqlite_utils.Database,
    digests: dict[str, tuple[int, int]],
    shown_src: str,
    shown_dst: str,
) -> audit.VerifyResult:
    """The copy, checked before it commits (see the module's docstring): ``digests`` are the
    source's tables' (rows, :func:`_add_rows`) as the copy read them."""
    for table, (n, digest) in digests.items():
        columns = list(_types(src, table))
        count, total = 0, 0
        for rows in _chunks(db, table, columns):
            total = _add_rows(total, rows)
            count += len(rows)
        if (count, total) != (n, digest):
            raise StoreError(
                f"{shown_dst}: the copy of the table {table} differs from {shown_src}'s rows; "
                "nothing was stored"
            )
    found = audit.verify(db, deep=True)
    if not found.ok:
        raise StoreError(
            f"{shown_src}: its audit does not verify ({found.reason}); a copy vouches for "
            "what it copies, so none was made (audit verify --deep --db names the row)"
        )
    if _head(db) != _head(src):
        raise StoreError(f"{shown_dst}: the copied chain does not end at the source's head")
    return found


def _add_rows(total: int, rows: Sequence[tuple[Any, ...]]) -> int:
    """``total`` with the rows added, as a multiset: the sum of their hashes modulo 2**256 (the
    two stores read rows in different orders, and sorting a province's tables would cost more
    than hashing them)."""
    for row in rows:
        if memoryview in map(type, row):  # a BLOB as one store gives it back
            row = tuple(bytes(v) if type(v) is memoryview else v for v in row)
        h = hashlib.sha256(repr(row).encode("utf-8", "surrogatepass")).digest()
        total += int.from_bytes(h, "big")
    return total % (1 << 256)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _same(a: str, b: str) -> bool:
    if stores.is_address(a) or stores.is_address(b):
        return a == b
    with suppress(OSError):
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with suppress(OSError):
            p.unlink()
