"""The shared store: one PostgreSQL database (psycopg 3), for several processes and machines.

:class:`PgStore` stands where :class:`~lienthong.store.sqlite.Store` does: the same migrations,
the same statements (rewritten once per text by :mod:`~lienthong.store.dialect`), one
transaction per command, the same errors. ``Engine("postgresql://user@host:5432/db")`` opens
one; ``?schema=name`` in the address keeps lienthong's tables in a schema of their own (created
if missing), as the tests do to give each test a fresh store.

Isolation: READ COMMITTED, the server's default, with locks that make each command see what it
writes over, as ``BEGIN IMMEDIATE`` does on SQLite, without making every command wait for every
other:

- a command's first read of a dossier, or of a step (the dossier the step belongs to), locks
  the dossier's row (``FOR UPDATE``) until the command ends, so two servers never both advance
  one dossier: the second waits, then reads (each statement of READ COMMITTED reads what was
  committed when it started) the step closed or the new workflow revision;
- the audit chain's head is read under a transaction-level advisory lock, held to the commit, so
  rows are chained in one order with no fork and their ids follow the chain (the identity value
  is drawn while the lock is held);
- the daily sequence is an upsert, whose row lock makes the next command wait for this one's
  commit: no gap (a rolled-back command gives its number back) and no duplicate;
- the next procedure and organisation numbers are drawn under an advisory lock too.

SERIALIZABLE would find the same conflicts, but late, as failures to retry; and a command cannot
be retried once it has called a plugin (an agency's operation, a notification). Waiting on a
lock for longer than ``busy_timeout`` raises :class:`~lienthong.errors.StoreBusy`, as on SQLite
(``lock_timeout``), and so does a deadlock the server breaks.

A store holds one connection of its own for its life, closed with it (or when it is collected:
an engine nobody closed holds nothing for ever). The connections service steps' operations run
on (:mod:`lienthong.engine.calls`) come from a pool per address (:mod:`psycopg_pool`), given
back after each call.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import sqlite_utils
from psycopg_pool import ConnectionPool

from lienthong.errors import LienthongError, StoreError
from lienthong.store import tracker
from lienthong.store.addresses import hide_password
from lienthong.store.dialect import SUPPORT_FUNCTIONS
from lienthong.store.pgdb import (
    PgConnection,
    PgDatabase,
    PgOperationDatabase,
    configure,
    store_error,
)
from lienthong.store.schema import MIGRATIONS
from lienthong.store.sqlite import BUSY_TIMEOUT, DURABILITY, Store

#: Advisory lock keys (the first of the two 32-bit keys is lienthong's: "LT" in ASCII).
_KEY = 0x4C54
_AUDIT_HEAD, _PROCEDURE_SEQ, _ORGANISATION_SEQ, _MIGRATIONS = 1, 2, 3, 4

#: Statements lienthong runs, with the lock a command takes before running each (see the
#: module's docstring). The texts are those of :mod:`~lienthong.store.tables` and
#: :mod:`~lienthong.store.audit`.
_DOSSIER = "SELECT 1 FROM dossiers WHERE code = %s FOR UPDATE"
_DOSSIER_OF_STEP = (
    "SELECT 1 FROM dossiers WHERE code = (SELECT dossier FROM steps WHERE id = %s) FOR UPDATE"
)


def _advisory(key: int) -> str:
    return f"SELECT pg_advisory_xact_lock({_KEY}, {key})"


BEFORE = {
    "SELECT * FROM dossiers WHERE code = ?": _DOSSIER,
    "SELECT * FROM steps WHERE id = ?": _DOSSIER_OF_STEP,
    "SELECT * FROM steps WHERE id = ? AND dossier = ?": _DOSSIER_OF_STEP,
}
_NO_ARGUMENTS = {
    "SELECT hash FROM audit ORDER BY id DESC LIMIT 1": _AUDIT_HEAD,
    "SELECT coalesce(max(seq), 0) + 1 FROM procedures": _PROCEDURE_SEQ,
    "SELECT coalesce(max(seq), 0) + 1 FROM organisations": _ORGANISATION_SEQ,
}

_POOLS: dict[str, ConnectionPool[Any]] = {}
_POOLS_LOCK = threading.Lock()
#: Connections a pool keeps open for the stores of one process.
POOL_MAX = 32


def _split(url: str) -> tuple[str, str | None]:
    """The address without lienthong's own ``schema`` parameter, and the schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def _pool(conninfo: str) -> ConnectionPool[Any]:
    with _POOLS_LOCK:
        pool = _POOLS.get(conninfo)
        if pool is None:
            pool = ConnectionPool(
                conninfo,
                min_size=0,
                max_size=POOL_MAX,
                kwargs={"autocommit": True},
                configure=configure,
                reset=_reset,
                open=True,
                timeout=30,
            )
            _POOLS[conninfo] = pool
        return pool


def _reset(conn: psycopg.Connection[Any]) -> None:
    conn.execute("RESET ALL")


class PgStore(Store):
    """A PostgreSQL database holding everything lienthong keeps (see the module's docstring).

    A subclass of the SQLite :class:`~lienthong.store.sqlite.Store` so that the engine takes
    either; it shares the migrations, the checks of its options and nothing of SQLite.
    ``durability``: ``"normal"`` commits without waiting for the WAL to reach the disk
    (``synchronous_commit = off``: a server crash may lose the last commits, never corrupt);
    ``"full"`` waits (the server's default).
    """

    def __init__(
        self,
        url: str,
        *,
        durability: str = "normal",
        checkpoints: str = "background",
        checkpoint_every: int = 0,
        busy_timeout: float = BUSY_TIMEOUT,
    ):
        if durability not in DURABILITY:
            raise LienthongError(f"durability={durability!r}: choose one of {sorted(DURABILITY)}")
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
        self.path = url
        conninfo, schema = _split(url)
        self.schema = schema
        self.where = hide_password(url)
        self._shared = True
        self.busy_timeout = float(busy_timeout)
        self.durability = durability
        self.checkpointer = None
        self._conninfo = conninfo
        self._pool = _pool(conninfo)
        try:
            raw = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(f"{self.where}: cannot connect to PostgreSQL ({e})") from e
        configure(raw)
        self._raw: psycopg.Connection[Any] | None = raw
        self.db: sqlite_utils.Database = PgDatabase(raw, self.where)
        self._conn: PgConnection = self.db.conn  # type: ignore[assignment]
        self._conn.before = {**BEFORE, **{k: _advisory(v) for k, v in _NO_ARGUMENTS.items()}}
        try:
            self._session(raw, schema)
            self.migrate()
        except BaseException:
            self.close()
            raise

    def _session(self, raw: psycopg.Connection[Any], schema: str | None) -> None:
        wait = max(1, round(self.busy_timeout * 1000)) if self.busy_timeout else 0
        commit = "off" if self.durability == "normal" else "on"
        try:
            if schema is not None:
                ident = psycopg.sql.Identifier(schema)
                raw.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                raw.execute(psycopg.sql.SQL("SET search_path TO {}").format(ident))
            raw.execute(f"SET lock_timeout = {wait}")
            raw.execute(f"SET synchronous_commit = {commit}")
            raw.execute("SET default_transaction_isolation = 'read committed'")
        except psycopg.errors.UniqueViolation:
            # Two processes created the schema at once: it exists.
            raw.execute(psycopg.sql.SQL("SET search_path TO {}").format(ident))
        except psycopg.Error as e:
            raise store_error(e, self.where, "opening the store") from e

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, one process at a time (a session lock)."""
        conn = self._conn
        conn.execute(f"SELECT pg_advisory_lock({_KEY}, {_MIGRATIONS})")
        try:
            if {n for n, _ in MIGRATIONS} - self._migrated():
                self._support_functions()
            return super().migrate()
        finally:
            with suppress(StoreError):
                conn.execute(f"SELECT pg_advisory_unlock({_KEY}, {_MIGRATIONS})")

    def _support_functions(self) -> None:
        """SQLite's functions the statements use (:data:`~lienthong.store.dialect.
        SUPPORT_FUNCTIONS`), in the store's schema, once."""
        found = self._conn.execute(
            "SELECT 1 FROM pg_proc WHERE proname = 'lienthong_refuse' "
            "AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
        ).fetchone()
        if found:
            return
        with self.transaction():
            for sql in SUPPORT_FUNCTIONS:
                self._conn.raw.execute(sql)

    def _migrated(self) -> set[str]:
        if not self.db["_migrations"].exists():
            return set()
        return {r[0] for r in self._conn.execute("SELECT name FROM _migrations").fetchall()}

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All of it is stored, or none of it; nested calls become savepoints. The locks of the
        module's docstring are taken as the command reads; nothing is retried (a command that
        waited too long raises :class:`~lienthong.errors.StoreBusy`, undone)."""
        conn = self._conn
        if conn.in_transaction:
            conn.execute("SAVEPOINT lienthong")
            try:
                yield self.db
            except BaseException:
                self._undo_savepoint()
                raise
            conn.execute("RELEASE SAVEPOINT lienthong")
            return
        conn.execute("BEGIN")
        conn.writing = True
        tracker.began(self.db)
        try:
            yield self.db
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            conn.writing = False

    def operation_database(self) -> PgOperationDatabase:
        """A connection of the pool for a service step's operation (:mod:`lienthong.engine.
        calls`), set up as the store's own; closing it gives it back."""
        try:
            raw = self._pool.getconn()
        except Exception as e:  # psycopg_pool's PoolTimeout, psycopg's OperationalError
            raise StoreError(f"{self.where}: cannot connect to PostgreSQL ({e})") from e
        self._session(raw, self.schema)
        return PgOperationDatabase(raw, self.where, self._conn.before, self._give_back)

    def _give_back(self, raw: psycopg.Connection[Any]) -> None:
        with suppress(psycopg.Error):
            if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                raw.execute("ROLLBACK")
        self._pool.putconn(raw)

    def _undo_savepoint(self) -> None:
        tracker.rolled_back(self.db)
        with suppress(StoreError):
            self._conn.execute("ROLLBACK TO SAVEPOINT lienthong")
            self._conn.execute("RELEASE SAVEPOINT lienthong")

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """One snapshot for all the statements of a read-only method (REPEATABLE READ, read
        only): it takes no lock, so commands go on meanwhile."""
        conn = self._conn
        if conn.in_transaction:
            yield self.db
            return
        conn.execute("BEGIN")
        try:
            conn.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield self.db
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        tracker.rolled_back(self.db)
        with suppress(StoreError):
            self._conn.rollback()

    def close(self) -> None:
        """Close the connection (the server undoes what was not committed)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()


def reader(url: str) -> sqlite_utils.Database:
    """A connection to a lienthong store on PostgreSQL that changes nothing (no migration, read
    only): for reports and the commands that only read. :class:`StoreError` if the address
    holds no lienthong store."""
    conninfo, schema = _split(url)
    where = hide_password(url)
    try:
        raw = psycopg.connect(conninfo, autocommit=True)
        configure(raw)
        if schema is not None:
            raw.execute(
                psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
            )
        raw.execute("SET default_transaction_read_only = on")
        # A read of several statements in one BEGIN (audit.snapshot) sees one state, as a WAL
        # reader does on SQLite; READ COMMITTED would give each statement its own.
        raw.execute("SET default_transaction_isolation = 'repeatable read'")
        found = raw.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = '_migrations'"
        ).fetchone()
    except psycopg.Error as e:
        raise store_error(e, where, "opening the store") from e
    if found is None:
        raw.close()
        raise StoreError(f"{where}: not a lienthong database (no lienthong tables)")
    return PgDatabase(raw, where)
