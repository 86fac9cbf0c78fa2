"""How a command asks for the write lock, and what the one-statement reads run.

A command asks once, at the connection's own ``busy_timeout``, while no other connection has
been seen holding the lock; once one has, the commands of the next seconds ask in the store's
short loop (``PRAGMA busy_timeout=0`` around ``BEGIN IMMEDIATE``). Either way the connection is
left at the configured ``busy_timeout``, so that reads and writes outside commands still wait.
Another connection holds the lock where a test needs it held: no sleeping, no threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lienthong import DossierNotFound, Engine, StoreBusy
from lienthong.store import sqlite as store_sqlite
from support import DESK, PROCESSES, officer_of, receive_birth

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


def test_an_uncontended_command_asks_once_with_no_pragma(engine: Engine) -> None:
    with statements(engine) as ran:
        receive_birth(engine)
    assert pragmas(ran) == []
    assert ran.count("BEGIN IMMEDIATE") == 1
    assert standing(engine) == 100


def test_after_the_lock_was_found_held_commands_ask_in_the_short_loop(
    engine: Engine, path: Path
) -> None:
    code = receive_birth(engine).code
    with lock_held(path), pytest.raises(StoreBusy, match=r"waited 0\.1 s"):
        receive_birth(engine)
    assert standing(engine) == 100  # SQLite's handler waited at the connection's own setting
    step = engine.open_steps(dossier=code)[0]
    with statements(engine) as ran:
        engine.complete(code, step.id, officer_of(engine, step.unit))
    assert pragmas(ran) == ["PRAGMA busy_timeout=0", "PRAGMA busy_timeout=100"]
    assert ran.index("PRAGMA busy_timeout=0") < ran.index("BEGIN IMMEDIATE")
    assert standing(engine) == 100  # reads and writes outside commands still wait


def test_the_short_loop_also_gives_up_after_busy_timeout(engine: Engine, path: Path) -> None:
    with lock_held(path), pytest.raises(StoreBusy):
        receive_birth(engine)
    before = len(engine.dossiers())
    with lock_held(path), statements(engine) as ran, pytest.raises(StoreBusy) as caught:
        receive_birth(engine)
    assert "busy_timeout=0.1 s" in str(caught.value) and "nothing was stored" in str(caught.value)
    assert ran.count("BEGIN IMMEDIATE") >= 2  # asked again, in the loop
    assert pragmas(ran)[0] == "PRAGMA busy_timeout=0"
    assert pragmas(ran)[-1] == "PRAGMA busy_timeout=100"
    assert standing(engine) == 100
    assert len(engine.dossiers()) == before


def test_commands_ask_once_again_when_no_one_held_the_lock_for_a_while(
    engine: Engine, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_sqlite, "_CONTENDED_FOR", 0.0)
    with lock_held(path), pytest.raises(StoreBusy):
        receive_birth(engine)
    with statements(engine) as ran:
        receive_birth(engine)
    assert pragmas(ran) == []


def test_a_zero_busy_timeout_fails_at_once_either_way(
    make_engine: Callable[..., Engine], path: Path
) -> None:
    engine = make_engine(path, busy_timeout=0)
    engine.load_procedures(PROCESSES)
    for _ in range(2):  # the first asks once, the second in the loop
        with lock_held(path), pytest.raises(StoreBusy, match=r"waited 0\.0 s"):
            receive_birth(engine)
    assert engine.dossiers() == []


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
