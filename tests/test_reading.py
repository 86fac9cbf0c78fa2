"""The read-only Engine methods read one snapshot, take no write lock, and work inside a command.

Another Engine on the same file (a second connection) commits a command *between* the
statements of a read: the first connection's trace callback, called as each statement starts,
runs it on the second SELECT. No sleeping, no threads: the interleaving is fixed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from lienthong import DossierNotFound, Engine, Status, hookimpl
from support import DESK, PROCESSES, FakeAgencies, receive_birth

DESK_A = "nguyen.thu.ha"


@contextmanager
def commit_between(engine: Engine, action: Callable[[], object]) -> Iterator[list[str]]:
    """Run ``action`` (which commits through another connection) as the engine's second SELECT
    of the block starts, once; yields the statements the engine ran."""
    ran: list[str] = []
    selects = 0

    def trace(sql: str) -> None:
        nonlocal selects
        ran.append(sql)
        if sql.lstrip().upper().startswith("SELECT"):
            selects += 1
            if selects == 2:
                action()

    engine.db.conn.set_trace_callback(trace)
    try:
        yield ran
    finally:
        engine.db.conn.set_trace_callback(None)
    assert selects >= 2, ran  # the commit did come between two statements


@pytest.fixture
def two(make_engine: Callable[..., Engine]) -> tuple[Engine, Engine]:
    """Two engines on one file: the reader and the one that commits in between."""
    reader = make_engine()
    reader.load_procedures(PROCESSES)
    writer = make_engine(busy_timeout=0.5)  # were the reader holding the write lock: StoreBusy
    return reader, writer


def completing(writer: Engine, code: str, step_id: int) -> Callable[[], object]:
    return lambda: writer.complete(code, step_id, DESK_A)


READS: dict[str, Callable[[Engine, str, int], Any]] = {
    "steps": lambda e, code, _: e.steps(code),
    "step": lambda e, code, step_id: e.step(code, step_id),
    "audit_rows": lambda e, code, _: e.audit_rows(code),
    "control_sheet": lambda e, code, _: e.control_sheet(code),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_read_sees_the_state_before_a_commit_in_between(
    two: tuple[Engine, Engine], name: str
) -> None:
    reader, writer = two
    read = READS[name]
    code = receive_birth(reader).code
    [reception] = reader.open_steps(dossier=code)
    before = read(reader, code, reception.id)
    with commit_between(reader, completing(writer, code, reception.id)):
        during = read(reader, code, reception.id)
    after = read(reader, code, reception.id)
    assert reader.dossier(code).status == Status.PROCESSING  # the writer's command committed
    assert after != before  # so the read could have seen it...
    assert during == before  # ...but saw one snapshot, from before it
    assert not reader.db.conn.in_transaction


def test_a_read_is_one_deferred_transaction(two: tuple[Engine, Engine]) -> None:
    """Two statements more than the reads themselves: a deferred BEGIN and a COMMIT (the
    savepoint sqlite-utils puts around a query nests inside it)."""
    reader, writer = two
    code = receive_birth(reader).code
    [reception] = reader.open_steps(dossier=code)
    with commit_between(reader, completing(writer, code, reception.id)) as ran:
        reader.control_sheet(code)
    assert ran[0] == "BEGIN" and ran[-1] == "COMMIT", ran
    inside = [sql.split()[0].upper() for sql in ran[1:-1]]
    assert set(inside) <= {"SELECT", "SAVEPOINT", "RELEASE"}, ran
    assert inside.count("SELECT") >= 3  # the dossier, its steps, its audit rows


@pytest.mark.sqlite_only  # SQLite's write lock
def test_reads_take_no_write_lock(make_engine: Callable[..., Engine], tmp_path: Any) -> None:
    """While another connection holds the write lock, every read-only method answers at once
    (the engine would raise StoreBusy after busy_timeout=0 if it asked for the lock)."""
    engine = make_engine(busy_timeout=0)
    engine.load_procedures(PROCESSES)
    code = receive_birth(engine).code
    [reception] = engine.open_steps(dossier=code)
    other = sqlite3.connect(tmp_path / "lienthong.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE dossiers SET note = 'uncommitted' WHERE code = ?", [code])
    try:
        assert engine.dossier(code).note is None  # not what the other holds uncommitted
        assert [d.code for d in engine.dossiers()] == [code]
        assert [d.code for d in engine.dossiers(status=Status.ACCEPTED)] == [code]
        assert engine.step(code, reception.id).is_open
        assert len(engine.steps(code)) == 1
        assert engine.open_steps(dossier=code) == engine.open_steps(unit=DESK)
        assert [s.id for s in engine.open_steps(officer=DESK_A)] == [reception.id]
        assert engine.audit_rows(code)
        assert engine.verify_audit().ok
        assert engine.control_sheet(code).dossier == code
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not engine.db.conn.in_transaction


def test_a_failed_read_leaves_no_transaction_open(engine: Engine) -> None:
    with pytest.raises(DossierNotFound):
        engine.steps("no-such-dossier")
    assert not engine.db.conn.in_transaction
    assert receive_birth(engine).status == Status.ACCEPTED  # and commands go on


class Reader:
    """Reads through the public API from inside a command, in its hooks."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.seen: list[tuple[str, int, int, bool]] = []

    @hookimpl
    def dossier_received(self, dossier: Any, db: Any) -> None:
        assert self.engine is not None
        e = self.engine
        self.seen.append(
            (
                e.dossier(dossier.code).code,
                len(e.open_steps(dossier=dossier.code)),
                len(e.audit_rows(dossier.code)),
                e.db.conn.in_transaction,
            )
        )
        e.control_sheet(dossier.code)
        e.verify_audit()


def test_reads_inside_a_command_see_its_writes_and_leave_it_open(
    make_engine: Callable[..., Engine],
) -> None:
    reader = Reader()
    engine = make_engine(plugins=[FakeAgencies(), reader])
    reader.engine = engine
    engine.load_procedures(PROCESSES)
    d = receive_birth(engine)
    # Inside receive(): its dossier, first step and audit row, not yet committed, and the
    # command's transaction still open after each read.
    assert reader.seen == [(d.code, 1, 1, True)]
    assert not engine.db.conn.in_transaction
    assert engine.dossier(d.code) == d  # committed as a whole
    assert engine.verify_audit().ok
