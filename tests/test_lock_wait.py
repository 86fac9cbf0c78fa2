"""How a command asks for the write lock, and what the one-statement reads run.

A command asks in the store's short loop (``PRAGMA busy_timeout=0`` around ``BEGIN IMMEDIATE``)
and leaves the connection at the configured ``busy_timeout``, so that reads and writes outside
commands still wait; the read-only methods that run one statement open no transaction. Another
connection holds the lock where a test needs it held: no sleeping, no threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lienthong import DossierNotFound, Engine, StoreBusy
from support import DESK, PROCESSES, receive_birth

#: SQLite's write lock, its busy handler and its statements: the PostgreSQL store has its own
#: (row locks and lock_timeout, tests/test_postgres.py).
pytestmark = pytest.mark.sqlite_only

DESK_A = "nguyen.thu.ha"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The statements the engine's connection runs in the block."""
    ran: list[str] = []
    engine.db.conn.set_trace_callback(ran.append)
    try:
        yield ran
    finally:
        engine.db.conn.set_trace_callback(None)


def pragmas(ran: list[str]) -> list[str]:
    return [s for s in ran if s.upper().startswith("PRAGMA BUSY_TIMEOUT")]


@contextmanager
def lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the write lock (a long command of another process)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "lock.db"


@pytest.fixture
def engine(make_engine: Callable[..., Engine], path: Path) -> Engine:
    e = make_engine(path, busy_timeout=0.1)
    e.load_procedures(PROCESSES)
    return e


def standing(engine: Engine) -> int:
    value: int = engine.db.execute("PRAGMA busy_timeout").fetchone()[0]
    return value


def test_a_command_asks_with_no_wait_and_leaves_the_connection_waiting(engine: Engine) -> None:
    with statements(engine) as ran:
        receive_birth(engine)
    assert pragmas(ran) == ["PRAGMA busy_timeout=0", "PRAGMA busy_timeout=100"]
    assert ran.index("PRAGMA busy_timeout=0") < ran.index("BEGIN IMMEDIATE")
    assert ran.index("PRAGMA busy_timeout=100") < ran.index("COMMIT")
    assert standing(engine) == 100  # reads and writes outside commands still wait


def test_the_short_loop_asks_again_then_gives_up_after_busy_timeout(
    engine: Engine, path: Path
) -> None:
    before = len(engine.dossiers())
    with lock_held(path), statements(engine) as ran, pytest.raises(StoreBusy) as caught:
        receive_birth(engine)
    assert "busy_timeout=0.1 s" in str(caught.value) and "nothing was stored" in str(caught.value)
    assert ran.count("BEGIN IMMEDIATE") >= 2  # asked again, in the loop
    assert pragmas(ran) == ["PRAGMA busy_timeout=0", "PRAGMA busy_timeout=100"]
    assert standing(engine) == 100
    assert len(engine.dossiers()) == before
    receive_birth(engine)  # the lock is free again: so is the engine
    assert len(engine.dossiers()) == before + 1


@pytest.mark.parametrize(
    "read",
    [
        lambda e, code: e.open_steps(dossier=code),
        lambda e, code: e.open_steps(unit=DESK),
        lambda e, code: e.open_steps(officer=DESK_A),
        lambda e, code: e.dossier(code),
        lambda e, code: e.dossiers(),
    ],
    ids=["open_steps dossier", "open_steps unit", "open_steps officer", "dossier", "dossiers"],
)
def test_a_one_statement_read_opens_no_transaction(
    engine: Engine, read: Callable[[Engine, str], object]
) -> None:
    code = receive_birth(engine).code
    with statements(engine) as ran:
        found = read(engine, code)
    assert found
    assert len(ran) == 1 and ran[0].lstrip().upper().startswith("SELECT"), ran
    assert not engine.db.conn.in_transaction


def test_open_steps_of_a_finished_or_unknown_dossier(engine: Engine) -> None:
    code = receive_birth(engine).code
    [step] = engine.open_steps(dossier=code)
    engine.withdraw(code, officer=DESK_A, reason="công dân rút hồ sơ")
    assert engine.open_steps(dossier=code) == []  # finished: none open, no error
    with pytest.raises(DossierNotFound, match="no-such"):
        engine.open_steps(dossier="no-such")
    assert step.is_open


def test_a_one_statement_read_holds_no_snapshot_after_it(engine: Engine, path: Path) -> None:
    """Nothing of the read stays open (a cursor not read to its end would keep its snapshot):
    a checkpoint that must wait for every reader completes at once."""
    code = receive_birth(engine).code
    other = sqlite3.connect(path, isolation_level=None)
    try:
        for read in (
            lambda: engine.dossier(code),
            lambda: engine.open_steps(dossier=code),
            lambda: engine.dossiers(),
        ):
            read()
            busy, _log, _copied = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
    finally:
        other.close()
