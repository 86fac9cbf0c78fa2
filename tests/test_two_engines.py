"""Two engines on one file: each sees what the other committed.

The engine keeps the records it built from rows it read (dossiers, steps) and the workflows it ran;
these tests check that a change made through another connection is never hidden by them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lienthong import Dossier, Engine, FixedClock, PluginError, Status, hookimpl
from support import PROCESSES, FakeAgencies, officer_of, receive_birth


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


class FailsOnce:
    """A plugin whose ``dossier_received`` raises the first time: the reception rolls back after
    its workflow was built and saved (the code allocated, the steps opened)."""

    __name__ = "fails_once"

    def __init__(self) -> None:
        self.armed = True

    @hookimpl
    def dossier_received(self, dossier: Dossier, db: Any) -> None:
        if self.armed:
            self.armed = False
            raise RuntimeError("the agency's register is down")


def test_a_reception_rolled_back_leaves_no_workflow_for_its_code(
    make_engine: Callable[..., Engine], tmp_path: Path, clock: FixedClock
) -> None:
    # The failed reception's code is free again (its daily sequence rolled back too): the other
    # engine's next dossier takes it, and the first engine must then run that dossier's workflow,
    # not the one it built for the reception that never was stored.
    path = tmp_path / "shared.db"
    a = make_engine(path, plugins=[FakeAgencies(), FailsOnce()])
    a.load_procedures(PROCESSES)
    b = make_engine(path)
    with pytest.raises(PluginError, match="fails_once"):
        receive_birth(a, "Lê Văn Bình")
    code = receive_birth(b, "Phạm Thu Hà").code
    assert a.dossier(code).applicant["name"] == "Phạm Thu Hà"
    reception = a.open_steps(dossier=code)[0]
    a.complete(code, reception.id, officer_of(a, reception.unit))
    assert [s.spec_id for s in a.open_steps(dossier=code)] == [
        s.spec_id for s in b.open_steps(dossier=code)
    ]
    nxt = a.open_steps(dossier=code)[0]
    clock.advance(hours=1)
    b.complete(code, nxt.id, officer_of(b, nxt.unit), {"birth_certificate_no": "KS-8"})
    assert b.step(code, nxt.id).status == "done"
    assert a.verify_audit(deep=True).ok
