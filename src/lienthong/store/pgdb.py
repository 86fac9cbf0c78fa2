"""A PostgreSQL connection dressed as the ``sqlite_utils.Database`` lienthong's code and its
plugins' hooks use: ``execute``/``query``, ``db.conn.execute``/``executemany``/
``in_transaction``/``commit``/``rollback``, and the few table methods plugins call
(``db[name].exists()``, ``.count``, ``.rows``, ``.insert``, ``.insert_all``, ``.upsert``,
``.create``, ``.create_index``).

Every statement goes through :func:`lienthong.store.dialect.translate`; every psycopg error
becomes a :class:`~lienthong.errors.StoreError` (:class:`~lienthong.errors.StoreBusy` for a lock
wait that ran out, a deadlock or a serialization failure), so that no psycopg exception reaches
a caller. The connection runs in autocommit mode and the store sends ``BEGIN``/``COMMIT``
itself, as it does on SQLite: ``in_transaction`` is the server's own answer.

Values come back as SQLite gives them: booleans as 0/1, ``numeric`` (what ``sum`` of integers
returns) as an int when it has no fraction, else a float.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlite_utils
from psycopg.adapt import Dumper, Loader
from psycopg.pq import TransactionStatus

from lienthong.errors import StoreBusy, StoreError
from lienthong.store.dialect import translate

#: SQLSTATEs that mean another transaction was in the way, not that the statement was wrong.
BUSY_STATES = frozenset({"40001", "40P01", "55P03", "57014"})


class _BoolAsInt(Dumper):
    """Python booleans are stored as 0/1, as SQLite stores them (the columns are integers)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _IntFromBool(Loader):
    def load(self, data: Any) -> int:
        return 1 if bytes(data) == b"t" else 0


class _NumberFromNumeric(Loader):
    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if "." in text or "e" in text.lower() or "N" in text else int(text)


def configure(conn: psycopg.Connection[Any]) -> None:
    """The adapters every connection of the store gets."""
    conn.adapters.register_dumper(bool, _BoolAsInt)
    conn.adapters.register_loader("bool", _IntFromBool)
    conn.adapters.register_loader("numeric", _NumberFromNumeric)


def store_error(e: psycopg.Error, where: str, doing: str = "a statement") -> StoreError:
    """The lienthong error for psycopg's ``e``."""
    state = getattr(e, "sqlstate", None) or ""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if state in BUSY_STATES:
        return StoreBusy(
            f"{where}: another transaction was in the way during {doing} ({state}: {text}); "
            "the command was undone and nothing was stored. Run it again."
        )
    return StoreError(
        f"{where}: PostgreSQL failed {doing} ({state or type(e).__name__}: {text}); the command "
        "was undone and nothing was stored."
    )


class PgCursor:
    """The sqlite3 cursor's face on a psycopg result: fetchone/fetchall, iteration,
    ``description``, ``rowcount`` and ``lastrowid``."""

    __slots__ = ("_i", "_rows", "description", "lastrowid", "rowcount")

    def __init__(
        self,
        rows: list[tuple[Any, ...]],
        description: Sequence[Any] | None,
        rowcount: int,
        lastrowid: int | None = None,
    ) -> None:
        self._rows = rows
        self._i = 0
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._i >= len(self._rows):
            return None
        row = self._rows[self._i]
        self._i += 1
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._i :]
        self._i = len(self._rows)
        return rows

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        rows = self._rows[self._i : self._i + size]
        self._i += len(rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows = []


class PgConnection:
    """What lienthong's code asks of ``db.conn``, on one psycopg connection.

    ``writing``: set by the store while a command's transaction is open, so that the dialect's
    row locks (:mod:`lienthong.store.postgres`) are taken in commands, not in reads.
    """

    def __init__(self, raw: psycopg.Connection[Any], where: str) -> None:
        self.raw = raw
        self.where = where
        self.writing = False
        self._data_version = 0
        self._trace: Callable[[str], object] | None = None
        #: Statements to run before a statement text (the store's locks), by text.
        self.before: Mapping[str, str] = {}

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> PgCursor:
        t = translate(sql)
        if t.sql is None:
            return self._pragma(t.pragma or "")
        args = _arguments(t.order, t.named, parameters)
        if self._trace is not None:
            self._trace(sql)
        try:
            if self.writing:
                lock = self.before.get(sql)
                if lock is not None:
                    # The lock's statement takes the first of the statement's arguments.
                    self.raw.execute(lock, args[: lock.count("%s")] or None)
            cur = self.raw.execute(t.sql, args)
            rows = cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            raise store_error(e, self.where) from e
        # A table without an id column has no rowid to give: 0, never None (callers assert one).
        lastrowid = rows[0][0] if t.returns_id and rows else 0
        description = None if t.returns_id else cur.description
        return PgCursor([] if t.returns_id else rows, description, cur.rowcount, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        t = translate(sql)
        if t.sql is None:
            return PgCursor([], None, -1)
        text = t.sql
        if t.returns_id:
            text = text[: -len(" RETURNING id")]
        batch = [_arguments(t.order, t.named, p) for p in seq]
        if not batch:
            return PgCursor([], None, 0)
        plain = _PLAIN_INSERT.match(text) if not t.named and len(batch) > 1 else None
        try:
            with self.raw.cursor() as cur:
                if plain is None:
                    cur.executemany(text, batch)
                    return PgCursor([], None, cur.rowcount)
                # A plain INSERT of many rows goes as COPY, one stream, not a statement a row:
                # a tick's batch writes a thousand audit rows while it holds the chain's lock.
                with cur.copy(f"COPY {plain.group(1)} ({plain.group(2)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
        except psycopg.Error as e:
            raise store_error(e, self.where) from e
        return PgCursor([], None, len(batch))

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            try:
                self.raw.execute("ROLLBACK")
            except psycopg.Error as e:
                raise store_error(e, self.where, "a rollback") from e

    def cursor(self) -> PgConnection:
        return self

    def set_trace_callback(self, fn: Callable[[str], object] | None) -> None:
        """As sqlite3's: ``fn`` gets the text of every statement run (as written, for SQLite)."""
        self._trace = fn

    def iterdump(self) -> Iterator[str]:
        """Every table's rows as lines of text, in a fixed order: what sqlite3's ``iterdump``
        is used for here, telling whether anything stored has changed."""
        tables = [
            r[0]
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        for table in tables:
            yield f"-- {table}"
            cur = self.execute(f'SELECT * FROM "{table}"')
            yield repr([c[0] for c in cur.description or ()])
            yield from sorted(repr(row) for row in cur.fetchall())

    def close(self) -> None:
        self.raw.close()

    def _pragma(self, pragma: str) -> PgCursor:
        """The PRAGMAs lienthong's code reads, answered; the others do nothing."""
        if pragma == "database_list":
            # The "file" is the address: another connection can open it (the operations'
            # connections of lienthong.engine.calls).
            return PgCursor([(0, "main", self.where)], None, -1)
        if pragma == "data_version":
            # SQLite's number moves when another connection has committed; PostgreSQL keeps no
            # such number, so it moves every time: the state tracker (lienthong.store.tracker)
            # then checks a dossier it kept against its last audit row in every transaction.
            self._data_version += 1
            return PgCursor([(self._data_version,)], None, -1)
        if pragma.startswith("table_info"):
            table = pragma.partition("(")[2].rstrip(")").strip("'\" ")
            cols = self.execute(
                "SELECT column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            return PgCursor(
                [
                    (i, c, _SQLITE_TYPES.get(t, t), int(n == "NO"), _sqlite_default(d), 0)
                    for i, (c, t, n, d) in enumerate(cols)
                ],
                None,
                -1,
            )
        return PgCursor([], None, -1)


#: PostgreSQL's column types by the names SQLite's ``PRAGMA table_info`` gives them.
_SQLITE_TYPES = {"bigint": "INTEGER", "integer": "INTEGER", "text": "TEXT", "bytea": "BLOB"}


def _sqlite_default(text: str | None) -> str | None:
    """A column's default as SQLite's ``PRAGMA table_info`` writes it: ``'x'::text`` is
    ``'x'``; a number is itself; an identity or another expression is given as it is."""
    if text is None:
        return None
    m = re.fullmatch(r"('(?:[^']|'')*')::[a-z ]+", text)
    return m.group(1) if m else text


#: ``INSERT INTO t (columns) VALUES (%s, …)`` and nothing after it: what executemany sends as COPY.
_PLAIN_INSERT = re.compile(
    r"^INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*\((?:%s\s*,\s*)*%s\)$", re.I
)


def _arguments(
    order: tuple[int, ...] | None, named: bool, parameters: Sequence[Any] | Mapping[str, Any]
) -> Any:
    if named:
        return parameters
    if isinstance(parameters, Mapping):
        raise StoreError("a statement with ? placeholders was given named parameters")
    if order is None:
        return list(parameters)
    return [parameters[i] for i in order]


class PgTable:
    """The few ``sqlite_utils.Table`` methods lienthong and its plugins call."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name

    def exists(self) -> bool:
        return self.name in self.db.table_names()

    @property
    def count(self) -> int:
        n: int = self.db.execute(f'SELECT count(*) FROM "{self.name}"').fetchone()[0]
        return n

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.db.query(f'SELECT * FROM "{self.name}"')

    @property
    def columns_dict(self) -> dict[str, str]:
        return {r[1]: r[2] for r in self.db.conn.execute(f"PRAGMA table_info({self.name})")}

    def create(
        self,
        columns: Mapping[str, Any],
        pk: str | Sequence[str] | None = None,
        not_null: Iterable[str] = (),
        defaults: Mapping[str, Any] | None = None,
        if_not_exists: bool = False,
        **_: Any,
    ) -> PgTable:
        not_null = set(not_null)
        defaults = defaults or {}
        keys = [pk] if isinstance(pk, str) else list(pk or ())
        parts = []
        for col, kind in columns.items():
            sqltype = _sql_type(kind)
            if keys == [col] and sqltype == "BIGINT":
                parts.append(f'"{col}" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
                continue
            part = f'"{col}" {sqltype}'
            if keys == [col]:
                part += " PRIMARY KEY"
            if col in not_null:
                part += " NOT NULL"
            if col in defaults:
                part += f" DEFAULT {_literal(defaults[col])}"
            parts.append(part)
        if len(keys) > 1:
            parts.append(f"PRIMARY KEY ({', '.join(chr(34) + k + chr(34) for k in keys)})")
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.execute(f'CREATE TABLE {exists}"{self.name}" ({", ".join(parts)})')
        return self

    def create_index(
        self,
        columns: Sequence[str],
        index_name: str | None = None,
        unique: bool = False,
        if_not_exists: bool = False,
        **_: Any,
    ) -> PgTable:
        name = index_name or f"idx_{self.name}_{'_'.join(columns)}"
        cols = ", ".join(f'"{c}"' for c in columns)
        self.db.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX "
            f'{"IF NOT EXISTS " if if_not_exists else ""}"{name}" ON "{self.name}" ({cols})'
        )
        return self

    def insert(
        self, record: Mapping[str, Any], pk: str | Sequence[str] | None = None, **kw: Any
    ) -> PgTable:
        return self.insert_all([record], pk=pk, **kw)

    def insert_all(
        self,
        records: Iterable[Mapping[str, Any]],
        pk: str | Sequence[str] | None = None,
        *,
        replace: bool = False,
        ignore: bool = False,
        upsert: bool = False,
        **_: Any,
    ) -> PgTable:
        rows = [dict(r) for r in records]
        if not rows:
            return self
        if not self.exists():
            columns: dict[str, Any] = {}
            for r in rows:
                for k, v in r.items():
                    if columns.get(k) is None:
                        columns[k] = None if v is None else type(v)
            self.create({k: v or str for k, v in columns.items()}, pk=pk)
        cols = list(dict.fromkeys(k for r in rows for k in r))
        names = ", ".join(f'"{c}"' for c in cols)
        sql = f'INSERT INTO "{self.name}" ({names}) VALUES ({", ".join("?" * len(cols))})'
        keys = [pk] if isinstance(pk, str) else list(pk or ())
        if (replace or upsert) and keys:
            rest = [c for c in cols if c not in keys]
            target = ", ".join(f'"{k}"' for k in keys)
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in rest)
            sql += f" ON CONFLICT ({target}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
        elif ignore:
            sql += " ON CONFLICT DO NOTHING"
        values = [[_value(r.get(c)) for c in cols] for r in rows]
        self.db._before_write()
        if len(values) == 1:
            self.db.execute(sql, values[0])
        else:
            self.db.conn.executemany(sql, values)
        return self

    def upsert(self, record: Mapping[str, Any], pk: str | Sequence[str], **kw: Any) -> PgTable:
        return self.insert_all([record], pk=pk, upsert=True, **kw)


def _sql_type(kind: Any) -> str:
    if isinstance(kind, str):
        return {
            "int": "BIGINT",
            "integer": "BIGINT",
            "str": "TEXT",
            "text": "TEXT",
            "float": "DOUBLE PRECISION",
            "bytes": "BYTEA",
            "blob": "BYTEA",
        }.get(kind.lower(), kind)
    if kind is bool or kind is int:
        return "BIGINT"
    if kind is float:
        return "DOUBLE PRECISION"
    if kind is bytes:
        return "BYTEA"
    return "TEXT"


def _literal(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return str(int(value) if isinstance(value, bool) else value)
    return "'" + str(value).replace("'", "''") + "'"


def _value(value: Any) -> Any:
    # sqlite-utils stores dicts and lists as JSON text.
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value


class PgDatabase(sqlite_utils.Database):
    """A ``sqlite_utils.Database`` in name, a PostgreSQL connection underneath (see the module's
    docstring). sqlite-utils' own ``__init__`` is not run: nothing of SQLite is opened."""

    #: Other processes write at once, row by row: a batch locks its rows (``lienthong.store.
    #: due.lock_dossiers``) where SQLite's one write lock does it for the whole file.
    row_locks = True

    def __init__(
        self,
        raw: psycopg.Connection[Any],
        where: str,
        release: Callable[[psycopg.Connection[Any]], None] | None = None,
    ) -> None:
        self.conn = PgConnection(raw, where)  # type: ignore[assignment]
        self.where = where
        self._release = release

    def _before_write(self) -> None:
        """Called before a table method writes (an operation's connection begins there)."""

    def execute(self, sql: str, parameters: Any = None) -> Any:
        return self.conn.execute(sql, parameters if parameters is not None else ())

    def executescript(self, sql: str) -> Any:
        cur = None
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                cur = self.execute(buf)
                buf = ""
        if buf.strip():
            cur = self.execute(buf)
        return cur

    def query(self, sql: str, params: Any = None) -> Generator[dict[str, Any], None, None]:
        cur = self.execute(sql, params)
        names = [c[0] for c in cur.description or ()]
        for row in cur.fetchall():
            yield dict(zip(names, row, strict=True))

    def table_names(self, fts4: bool = False, fts5: bool = False) -> list[str]:
        return [
            r[0]
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            ).fetchall()
        ]

    def __getitem__(self, name: str) -> PgTable:  # type: ignore[override]
        return PgTable(self, name)

    def table(self, table_name: str, **kwargs: Any) -> PgTable:  # type: ignore[override]
        return PgTable(self, table_name)

    @contextmanager
    def atomic(self) -> Iterator[PgDatabase]:
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
            try:
                yield self
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return
        conn.execute("SAVEPOINT lienthong")
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT lienthong")
            conn.execute("RELEASE SAVEPOINT lienthong")
            raise
        conn.execute("RELEASE SAVEPOINT lienthong")

    def close(self) -> None:
        """Close the connection, or give it back to the pool it came from."""
        release = self._release
        if release is not None:
            self._release = None
            release(self.conn.raw)  # type: ignore[attr-defined]
            return
        self.conn.close()


class PgOperationDatabase(PgDatabase):
    """The ``db`` a service step's operation gets (:mod:`lienthong.engine.calls`): a connection
    of its own, whose first write begins the transaction the engine then records the result in,
    and in which nothing commits by itself; reads begin nothing. The store's locks are taken in
    that transaction as in a command's (``writing``)."""

    def __init__(
        self,
        raw: psycopg.Connection[Any],
        where: str,
        before: Mapping[str, str],
        release: Callable[[psycopg.Connection[Any]], None],
    ) -> None:
        super().__init__(raw, where, release)
        self.conn.writing = True  # type: ignore[attr-defined]
        self.conn.before = before  # type: ignore[attr-defined]

    def _before_write(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    def execute(self, sql: str, parameters: Any = None) -> Any:
        if _writes(sql):
            self._before_write()
        return super().execute(sql, parameters)

    @contextmanager
    def atomic(self) -> Iterator[PgDatabase]:
        self._before_write()
        with super().atomic():
            yield self


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})


def _writes(sql: str) -> bool:
    """Whether a statement may write (its first keyword; a ``WITH`` that names a write), as
    :func:`lienthong.engine.calls._writes` decides for SQLite."""
    words = re.findall(r"[A-Za-z]+", re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S))
    if not words:
        return False
    first = words[0].upper()
    if first == "WITH":
        return any(w.upper() in _WRITES for w in words)
    return first in _WRITES
