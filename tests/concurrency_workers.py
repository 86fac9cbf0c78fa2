"""What the processes of ``test_concurrency.py`` run.

They are started with ``spawn``, which imports the target function's module by name in the new
process: pytest's importlib mode gives test modules names (``tests.test_…``) that a new process
cannot import, so the workers live here, on the ``tests`` folder that is on ``sys.path``.

Every command's outcome is recorded as ``"ok"`` or the class name of what it raised, with whether
that class is a :class:`~lienthong.LienthongError`; nothing is raised out of a worker, so that a
failing command cannot leave the others waiting at a barrier.
"""

from __future__ import annotations

import traceback
from typing import Any

from lienthong import Engine, FixedClock, LienthongError, Organisation
from lienthong.demo import DEMO_ORG
from support import PROCESSES, FakeAgencies, receive_birth, vn

DATA = {
    "birth_certificate_no": "KS-01",
    "residence_registration_no": "TT-01",
    "tax_notice_no": "TB-01",
}
#: (race, dossier code, step id, officer) of a command.
Where = tuple[str, str, int | None, str | None]
#: A bound on every wait at a barrier: a worker stuck elsewhere fails the test, never hangs it.
BARRIER_SECONDS = 60


def open_engine(path: str) -> Engine:
    return Engine(
        path,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(vn(2025, 3, 3, 9, 0)),
        plugins=[FakeAgencies()],
        entry_points=False,
    )


def _outcome(fn: Any, *args: Any) -> tuple[str, bool, str, Any]:
    """(``"ok"`` or the exception's class name, whether it is lienthong's, its message, the
    result)."""
    try:
        return "ok", True, "", fn(*args)
    except LienthongError as e:
        return type(e).__name__, True, str(e), None
    except Exception as e:  # what the test is looking for: anything that is not lienthong's
        return f"{type(e).__name__}: {e}", False, str(e), None


def worker(path: str, index: int, shared: str, dossiers: int, barrier: Any, out: Any) -> None:
    """Race the others on the ``shared`` dossier, step by step, then receive and work
    ``dossiers`` dossiers of one's own; put what happened on ``out``."""
    try:
        out.put(_work(path, index, shared, dossiers, barrier))
    except BaseException:
        out.put({"index": index, "crash": traceback.format_exc()})
        barrier.abort()


def _work(path: str, index: int, shared: str, dossiers: int, barrier: Any) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = []

    def record(what: str, where: Where, fn: Any, *args: Any) -> Any:
        """Run ``fn`` and record its outcome; ``where``: (race, dossier, step, officer)."""
        name, ours, message, result = _outcome(fn, *args)
        race, code, step, officer = where
        outcomes.append(
            {"race": race, "what": what, "code": code, "step": step, "officer": officer,
             "outcome": name, "ours": ours, "message": message}
        )
        return result

    start = ("start", "", None, None)
    barrier.wait(BARRIER_SECONDS)
    # A new file that all create at once: one makes the schema, the others find it made.
    fresh = record("create", start, open_engine, f"{path}.fresh")
    if fresh is not None:
        fresh.close()
    barrier.wait(BARRIER_SECONDS)
    # Every process of a deployment loads its procedures when it starts: at the same moment here.
    engine = record("open", start, open_engine, path)
    if engine is not None:
        record("load", start, engine.load_procedures, PROCESSES)
    barrier.wait(BARRIER_SECONDS)
    assert engine is not None, outcomes

    # -- the same dossier: everyone at once on its open step ------------------------------------
    round_no = 0
    while True:
        barrier.wait(BARRIER_SECONDS)  # nobody writes until everyone has read the open step
        open_steps = [s for s in engine.open_steps(dossier=shared) if s.kind == "user"]
        barrier.wait(BARRIER_SECONDS)
        if not open_steps:
            break
        step = open_steps[0]
        members = engine.org.members(step.unit)
        me = members[index % len(members)].id
        where = (f"round {round_no}", shared, step.id, me)
        if len(members) >= 4:  # one officer each: exactly one claim can win
            record("claim", where, engine.claim, shared, step.id, me)
            barrier.wait(BARRIER_SECONDS)
        record("complete", where, engine.complete, shared, step.id, me, DATA)
        round_no += 1

    # -- dossiers of one's own, all at once -----------------------------------------------------
    barrier.wait(BARRIER_SECONDS)
    for _ in range(dossiers):
        d = record("receive", ("own", "", None, None), receive_birth, engine, f"Người nộp {index}")
        if d is None:
            continue
        outcomes[-1]["code"] = d.code
        while True:
            found = [s for s in engine.open_steps(dossier=d.code) if s.kind == "user"]
            if not found:
                break
            s = found[0]
            me = engine.org.members(s.unit)[0].id
            before = len(outcomes)
            record("complete", ("own", d.code, s.id, me), engine.complete, d.code, s.id, me, DATA)
            if outcomes[before]["outcome"] != "ok":
                break  # recorded; the test says whether it may happen
    engine.close()
    return {"index": index, "outcomes": outcomes}
