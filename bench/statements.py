"""Where a handoff's time inside SQLite goes: every statement the engine's connections run,
counted and timed, grouped by its text, per handoff of loop (c) of bench/handoffs.py.

    .venv/bin/python bench/statements.py [--dossiers N] [--warm-up N] [--top N]

Each connection sqlite-utils opens (the engine's own) and each the operation thread opens is a
:class:`sqlite3.Connection` subclass whose ``execute`` is timed; statements run through a
cursor of their own (``executemany``, a cursor's ``execute``) are not seen. The timer costs a
little per statement, the same for every tree: compare trees in one run of ``bench/versus.py
REV --bench statements.py`` or by the counts, not by these times against handoffs.py's. The
last line is a JSON object: ``execute_us`` (per handoff, all statements), ``statements`` and
``commits`` (per dossier), and ``ratio_execute`` (the loop's whole time over the time inside
``execute``, for versus.py to print).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

HANDOFFS_PER_DOSSIER = 7
TIMES: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
ON = [False]


def _load_handoffs() -> Any:
    """bench/handoffs.py of the current folder if it has one (so that versus.py measures REV
    with REV's loop), else of this script's folder."""
    import importlib.util

    folder = Path.cwd() / "bench"
    folder = folder if (folder / "handoffs.py").exists() else Path(__file__).parent
    spec = importlib.util.spec_from_file_location("handoffs", folder / "handoffs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=4096)
def _shape(sql: str) -> str:
    """A statement's text with its numbers and whitespace folded, to group alike ones."""
    return re.sub(r"\s+", " ", re.sub(r"\b\d+\b", "N", sql)).strip()[:90]


class TimedConnection(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        # The checkpoint thread's statements are not a handoff's.
        if not ON[0] or threading.current_thread().name.startswith("lienthong-checkpoint"):
            return super().execute(sql, *args)
        start = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            took = time.perf_counter() - start
            entry = TIMES[_shape(sql)]
            entry[0] += 1
            entry[1] += took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=200)
    ap.add_argument("--warm-up", type=int, default=30)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    connect = sqlite3.connect

    def timed_connect(*a: Any, **kw: Any) -> sqlite3.Connection:
        kw.setdefault("factory", TimedConnection)
        return connect(*a, **kw)

    sqlite3.connect = timed_connect  # type: ignore[assignment]
    h = _load_handoffs()
    with tempfile.TemporaryDirectory() as tmp:
        engine = h.make_engine(Path(tmp) / "bench.db", "normal")
        members = h.officers(engine)
        for _ in range(args.warm_up):
            h.run_dossier(engine, members)
        ON[0] = True
        start = time.perf_counter()
        for _ in range(args.dossiers):
            h.run_dossier(engine, members)
        elapsed = time.perf_counter() - start
        ON[0] = False
        engine.close()
    handoffs = args.dossiers * HANDOFFS_PER_DOSSIER
    total = sum(t for _, t in TIMES.values())
    count = sum(n for n, _ in TIMES.values())
    commits = sum(n for k, (n, _) in TIMES.items() if k.upper().startswith("COMMIT"))
    print(
        f"{args.dossiers} dossiers after {args.warm_up}: {elapsed / handoffs * 1e6:.0f} us a "
        f"handoff in all, {total / handoffs * 1e6:.0f} us inside execute, "
        f"{count / args.dossiers:.1f} statements a dossier"
    )
    print(f"{'us/handoff':>10} {'n/dossier':>9}  statement")
    for sql, (n, t) in sorted(TIMES.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{t / handoffs * 1e6:10.1f} {n / args.dossiers:9.2f}  {sql}")
    print(
        json.dumps(
            {
                "dossiers": args.dossiers,
                "handoff_us": round(elapsed / handoffs * 1e6, 1),
                "execute_us": round(total / handoffs * 1e6, 1),
                "statements": round(count / args.dossiers, 2),
                "commits": round(commits / args.dossiers, 2),
                "ratio_execute": round(total / elapsed, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
