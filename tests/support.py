"""Helpers shared by the tests: paths, unit codes, a fake agency plugin, snapshots."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lienthong import Dossier, Engine, FixedClock, Organisation, hookimpl
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ
from lienthong.store import audit, batch, digests, tracker
from lienthong.testing.databases import drop_all, store_for

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ROOT / "processes"
KHAI_SINH = PROCESSES / "khai-sinh-thuong-tru-bhyt.bpmn"
LAND = PROCESSES / "dang-ky-bien-dong-chuyen-nhuong.bpmn"
ARCHIVE = PROCESSES / "phuc-vu-doc-tai-lieu-luu-tru.bpmn"
DESK = "000.00.01.H29"
COMMUNE = "000.01.41.H29"
POLICE = "000.01.60.H29"
BHXH = "000.01.70.H29"


def vn(*args: int) -> datetime:
    """An instant in Asia/Ho_Chi_Minh."""
    return datetime(*args, tzinfo=VN_TZ)  # type: ignore[misc]


class FakeAgencies:
    """Performs the sample procedures' service operations, deterministically."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def operations(self) -> list[str]:
        return ["police.record_residence", "social_insurance.issue_card", "tax.register_household"]

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any) -> dict[str, Any]:
        self.calls.append(operation)
        if operation == "police.record_residence":
            return {"residence_recorded": True}
        if operation == "tax.register_household":
            return {"tax_registered": True}
        return {"health_insurance_card": f"TE1{dossier.code[-4:]}"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(vn(2025, 3, 3, 9, 0))  # a Monday with no holiday near


@pytest.fixture
def org() -> Organisation:
    return Organisation.from_file(DEMO_ORG)


@pytest.fixture(autouse=True)
def state_digests_checked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """In every test: each state digest an engine's tracker makes from what was written equals
    the one read from the tables (a write that did not tell the tracker would differ). A test
    that edits the tables behind the engine's back is marked ``tampers``."""
    if request.node.get_closest_marker("tampers"):
        yield
        return
    wrong: list[str] = []
    made = tracker.Tracker.digests

    def checked(self: tracker.Tracker, conn: sqlite3.Connection, codes: Any) -> dict[str, str]:
        codes = list(codes)
        got = made(self, conn, codes)
        for code in codes:
            read = digests.digest(conn, code)
            if got[code] != read:
                wrong.append(f"{code}: tracked {got[code]}, read {read}")
        return got

    batch_done = batch.Batch.done

    def checked_batch(self: batch.Batch) -> None:
        for code, text in self.texts().items():
            read = digests.digest(self._db, code)
            if text != read:
                wrong.append(f"{code}: batch {text}, read {read}")
        batch_done(self)

    monkeypatch.setattr(tracker.Tracker, "digests", checked)
    monkeypatch.setattr(batch.Batch, "done", checked_batch)
    yield
    assert not wrong, "state digests made from the writes differ from the tables:\n" + "\n".join(
        wrong
    )


@pytest.fixture
def make_engine(
    tmp_path: Path, org: Organisation, clock: FixedClock, request: pytest.FixtureRequest
) -> Callable[..., Engine]:
    engines: list[Engine] = []

    def make(path: str | Path | None = None, **kw: Any) -> Engine:
        kw.setdefault("plugins", [FakeAgencies()])
        kw.setdefault("entry_points", False)
        kw.setdefault("clock", clock)
        e = Engine(store_for(path or tmp_path / "lienthong.db"), org=kw.pop("org", org), **kw)
        engines.append(e)
        return e

    yield make
    # Whatever a test did through the API, every dossier's rows are what its last audit row
    # vouches for (a test that edits the tables behind the engine's back is marked ``tampers``).
    tampers = request.node.get_closest_marker("tampers") is not None
    broken = []
    for e in engines:
        with contextlib.suppress(sqlite3.ProgrammingError):  # closed by the test
            if not tampers and e.db.conn.in_transaction is False:
                found = audit.verify(e.db, deep=True)
                if not found.ok:
                    broken.append(f"{e.store.where}: {found.reason}")
        with contextlib.suppress(sqlite3.ProgrammingError):
            e.close()
    drop_all()
    assert not broken, "verify --deep after the test: " + "; ".join(broken)


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    e = make_engine()
    e.load_procedures(PROCESSES)
    return e


def snapshot(engine: Engine) -> str:
    """Everything stored, as SQL text: equal snapshots mean nothing changed."""
    return "\n".join(engine.db.conn.iterdump())


BIRTH_DOCUMENTS = ["to_khai_lien_thong", "giay_chung_sinh"]


def receive_birth(engine: Engine, name: str = "Nguyễn Văn An", **kw: Any) -> Dossier:
    """Receive a liên thông khai sinh dossier (233448) at the desk, with its two documents;
    ``kw`` goes to ``Engine.receive`` (channel, officer, data...)."""
    return engine.receive(
        "233448", applicant={"name": name}, receiving_unit=DESK, documents=BIRTH_DOCUMENTS, **kw
    )


def officer_of(engine: Engine, unit: str) -> str:
    return engine.org.members(unit)[0].id


def run_to_end(engine: Engine, code: str, clock: FixedClock, *, hours: float = 1) -> None:
    """Complete every open user step with an officer of its unit until the dossier closes."""
    data = {
        "birth_certificate_no": "KS-01",
        "residence_registration_no": "TT-01",
        "tax_notice_no": "TB-01",
    }
    while not engine.dossier(code).is_closed:
        step = next(s for s in engine.steps(code) if s.is_open and s.kind == "user")
        clock.advance(hours=hours)
        engine.complete(code, step.id, officer_of(engine, step.unit), data)


def run_processes(procs: list[Any], out: Any) -> list[dict[str, Any]]:
    """Start ``procs`` (multiprocessing processes that each put one result dict on ``out``),
    gather their results, never leave one running, and fail on any that crashed."""
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    crashes = [r["crash"] for r in results if "crash" in r]
    assert not crashes, "\n".join(crashes)
    return results


def fill_due_timers(where: str | Path, dossiers: int = 12) -> None:
    """Dossiers of three procedures received from 3 March 2025 and left alone, in the store at
    ``where`` (a file or an address): by late April their warnings, escalations up the
    hierarchy and apology reminders have all fallen due (the tick race tests)."""
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    engine = Engine(
        where,
        org=Organisation.from_file(DEMO_ORG),
        clock=clock,
        plugins=[FakeAgencies()],
        entry_points=False,
    )
    for f in (KHAI_SINH, LAND, ARCHIVE):
        engine.load_procedure(f)
    for i in range(dossiers):
        clock.advance(minutes=37)
        receive_birth(engine, f"Người nộp {i}")
    engine.close()
