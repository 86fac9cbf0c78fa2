"""What the read transaction costs the read-only Engine methods.

    .venv/bin/python bench/reads.py [--rounds R]

Each read-only method (``dossier``, ``open_steps``, ``steps``, ``control_sheet``, ...) runs in
one read transaction (``Store.reading``: a deferred ``BEGIN`` ... ``COMMIT``), so that its
statements see one snapshot. The baseline, in the same run and on the same file, is the same
methods with ``Store.reading`` replaced by a block that does nothing, as before: each statement
then reads in a transaction of its own. The two alternate in rounds; each keeps its best. The
last line is a JSON object; ``ratio_<method>`` is with ÷ without.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong.store.sqlite import Store  # noqa: E402


def _load_handoffs() -> Any:
    """bench/handoffs.py, whose engine and loop this uses (this folder is not on sys.path)."""
    import importlib.util

    path = Path(__file__).with_name("handoffs.py")
    spec = importlib.util.spec_from_file_location("handoffs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_handoffs()


@contextlib.contextmanager
def _no_transaction(self: Store) -> Iterator[Any]:
    yield self.db


def _best_us(fn: Callable[[], object], n: int, tries: int = 3) -> float:
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = common.make_engine(Path(tmp) / "reads.db", "normal")
        members = common.officers(engine)
        done = [common.run_dossier(engine, members) for _ in range(50)]
        proc = engine.procedure(common.CODE)
        code = engine.receive(
            proc.code,
            applicant={"name": "A"},
            receiving_unit=common.DESK,
            documents=list(proc.required_documents),
        ).code
        desk_officer = members[common.DESK]
        cases: dict[str, tuple[Callable[[], object], int]] = {
            "dossier": (lambda: engine.dossier(code), 5000),
            "open_steps_dossier": (lambda: engine.open_steps(dossier=code), 5000),
            "open_steps_officer": (lambda: engine.open_steps(officer=desk_officer), 5000),
            "steps": (lambda: engine.steps(done[0]), 3000),
            "audit_rows": (lambda: engine.audit_rows(done[0]), 3000),
            "control_sheet": (lambda: engine.control_sheet(done[0]), 500),
        }
        reading = Store.reading
        with_txn: dict[str, float] = {}
        without: dict[str, float] = {}
        try:
            for _ in range(args.rounds):
                for name, (fn, n) in cases.items():
                    Store.reading = _no_transaction  # type: ignore[method-assign,assignment]
                    without[name] = min(without.get(name, float("inf")), _best_us(fn, n))
                    Store.reading = reading  # type: ignore[method-assign]
                    with_txn[name] = min(with_txn.get(name, float("inf")), _best_us(fn, n))
        finally:
            Store.reading = reading  # type: ignore[method-assign]
        engine.close()
    print(f"read-only methods, best of {args.rounds} alternating rounds; SQLite WAL")
    print(f"  {'method':20} {'own statements':>14} {'one snapshot':>12} {'ratio':>6}")
    summary: dict[str, Any] = {"rounds": args.rounds}
    for name in cases:
        a, b = without[name], with_txn[name]
        print(f"  {name:20} {a:11.1f} us {b:9.1f} us {b / a:6.3f}")
        summary[f"{name}_us"] = round(b, 2)
        summary[f"{name}_before_us"] = round(a, 2)
        summary[f"ratio_{name}"] = round(b / a, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
