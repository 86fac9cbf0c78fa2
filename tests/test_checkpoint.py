"""WAL checkpoints run in a thread of their own; the data is the same whoever checkpoints it."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path

import pytest

from lienthong import Engine, FixedClock, LienthongError, Organisation
from lienthong.store import Store
from lienthong.store.checkpoint import Checkpointer
from support import PROCESSES, FakeAgencies, receive_birth, run_to_end

# WAL checkpoints: SQLite's own.
pytestmark = pytest.mark.sqlite_only

WAIT = 30  # seconds; a bound on waiting for the thread, never a pause


def _commit(store: Store, n: int) -> None:
    for _ in range(n):
        with store.transaction() as db:
            db.execute(
                "INSERT INTO daily_sequence (unit, day, last) VALUES ('U', '000000', 1) "
                "ON CONFLICT (unit, day) DO UPDATE SET last = last + 1"
            )


def _threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"lienthong-checkpoint {path}"]


def test_a_thread_checkpoints_every_n_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", checkpoint_every=5)
    cp = store.checkpointer
    assert cp is not None
    _commit(store, 4)
    assert not cp.running and cp.runs == 0  # a short-lived store never starts the thread
    _commit(store, 8)
    assert cp.wait(WAIT)
    assert cp.running and cp.runs >= 1 and cp.error is None
    busy, log, copied = cp.last or (1, 0, 0)
    assert busy == 0 and log > 0 and copied == log  # every frame then in the WAL was copied
    # The committing connection no longer checkpoints at SQLite's 1,000 pages.
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] > 1000
    store.close()
    assert not _threads(tmp_path / "s.db")


def test_nothing_is_lost_whoever_checkpoints(
    tmp_path: Path, clock: FixedClock, org: Organisation
) -> None:
    path = tmp_path / "e.db"
    engine = Engine(
        Store(path, checkpoint_every=3),
        org=org,
        clock=clock,
        plugins=[FakeAgencies()],
        entry_points=False,
    )
    engine.load_procedures(PROCESSES)
    codes = []
    for _ in range(4):
        code = receive_birth(engine, "Lò Văn Páo").code
        run_to_end(engine, code, clock)
        codes.append(code)
    assert engine.store.checkpointer is not None
    assert engine.store.checkpointer.wait(WAIT)
    assert engine.store.checkpointer.runs >= 1  # requests made while one runs share it
    before = {c: (engine.dossier(c), engine.audit_rows(c)) for c in codes}
    engine.close()
    # Read the file with a plain connection: the database file and the WAL hold it all.
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 4
    raw.close()
    again = Engine(path, org=org, clock=clock, plugins=[FakeAgencies()], entry_points=False)
    assert {c: (again.dossier(c), again.audit_rows(c)) for c in codes} == before
    assert again.verify_audit().ok
    again.close()


def test_inline_checkpoints_leave_it_to_sqlite(tmp_path: Path) -> None:
    store = Store(tmp_path / "i.db", checkpoints="inline")
    assert store.checkpointer is None
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    store.close()
    memory = Store(":memory:")
    assert memory.checkpointer is None  # no WAL, nothing to checkpoint
    memory.close()


def test_an_unknown_checkpoint_mode_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(LienthongError, match=r"checkpoints='sometimes'.*background.*inline"):
        Store(tmp_path / "x.db", checkpoints="sometimes")
    assert not (tmp_path / "x.db").exists()


def test_the_thread_ends_with_its_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    cp = Checkpointer(str(tmp_path / "g.db"), store, every=1, idle=0.01)
    cp.request()
    assert cp.wait(WAIT) and cp.runs == 1
    thread = _threads(tmp_path / "g.db")[0]
    store.close()
    del store
    gc.collect()
    thread.join(WAIT)  # it notices at its next idle wake-up that its owner is gone
    assert not thread.is_alive()
