"""A command interrupted (Ctrl-C) while an agency's operation runs leaves no connection open:
the operation's connection is closed when the call ends, since nobody will take its result
(``lienthong.engine.calls``). Without it, a demo interrupted there could leave its database
files behind after deleting them."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from lienthong.engine.calls import Calls
from lienthong.store import Store


def test_an_interrupted_wait_closes_the_calls_connection_when_the_call_ends(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "calls.db")
    calls = Calls(store)
    release = threading.Event()
    seen: list[Any] = []
    main = threading.main_thread().ident
    assert main is not None

    def operation(db: Any) -> str:
        seen.append(db)
        db.execute("CREATE TABLE t (x)")  # it has begun a transaction on its connection
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C, while the engine waits for it
        assert release.wait(30)
        return "late"

    with pytest.raises(KeyboardInterrupt):
        calls.call(operation, 30, "test")
    release.set()
    # The next call runs after that one has ended, in the same thread.
    after = calls.call(lambda db: 1, 30, "next")
    assert after.result == 1
    after.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed, its transaction undone
        seen[0].execute("SELECT 1")
    assert not store.db["t"].exists()
    calls.close()
    store.close()
