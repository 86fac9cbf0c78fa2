"""Two engines on one file: each sees what the other committed.

The engine keeps the records it built from rows it read (dossiers, steps) and the workflows it ran;
these tests check that a change made through another connection is never hidden by them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lienthong import Engine, FixedClock, Status
from support import PROCESSES, officer_of, receive_birth


def test_records_follow_the_other_engines_commits(
    make_engine: Callable[..., Engine], tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "shared.db"
    a = make_engine(path)
    a.load_procedures(PROCESSES)
    b = make_engine(path)
    code = receive_birth(a, "Hà Thị Mai").code
    first = a.open_steps(dossier=code)[0]
    assert a.dossier(code).status == Status.ACCEPTED
    assert b.open_steps(dossier=code) == [first]  # b reads a's commit

    # b works the step; a's kept records and workflow must not hide it.
    b.complete(code, first.id, officer_of(b, first.unit))
    assert a.dossier(code) == b.dossier(code)
    assert a.dossier(code).status == Status.PROCESSING
    assert a.step(code, first.id).status == "done"
    after_b = a.open_steps(dossier=code)
    assert first not in after_b and after_b == b.open_steps(dossier=code)

    # a continues from b's state, not from the workflow it kept in memory.
    nxt = after_b[0]
    a.complete(code, nxt.id, officer_of(a, nxt.unit), {"birth_certificate_no": "KS-7"})
    assert b.step(code, nxt.id).status == "done"
    assert [s.id for s in a.steps(code)] == [s.id for s in b.steps(code)]
    assert a.verify_audit().ok
