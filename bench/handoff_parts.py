"""Where a lienthong handoff's time goes, and how many WAL pages a command writes.

    .venv/bin/python bench/handoff_parts.py [--dossiers N]

Runs the loop of ``bench/handoffs.py`` (c) with some engine functions wrapped in timers. The parts
overlap (a step closed inside a service step is inside both), and the wrappers cost a little, so
the figures are approximate: they say where to look, not what to promise. Then it counts the WAL
frames of each command of one dossier, with checkpoints off so that no frame is lost to one.
The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong.bpmn import state  # noqa: E402
from lienthong.engine import progress, steps, workflows  # noqa: E402
from lienthong.store import audit, sqlite, tables  # noqa: E402


def _load_handoffs() -> Any:
    """bench/handoffs.py, whose loops this measures (this folder is not on sys.path)."""
    import importlib.util

    path = Path(__file__).with_name("handoffs.py")
    spec = importlib.util.spec_from_file_location("handoffs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_handoffs()

PARTS: list[tuple[Any, str, str]] = [
    # advance() is imported by name where it is called: time it in both places.
    (progress, "advance", "SpiffWorkflow: run the task and the engine steps"),
    (steps, "advance", "SpiffWorkflow: run the task and the engine steps"),
    (state, "_dump_flat", "encode the workflow state"),
    (workflows.Workflows, "save", "encode and store the workflow state"),
    (audit, "append", "audit rows and their hashes"),
    (progress.Progress, "open_new_steps", "open the next steps (rows, due instants)"),
    (tables.Records, "dossier", "read dossier records"),
    (tables.Records, "_steps_where", "read step records"),
]


def _timed(spent: Counter[str], label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start

    return wrapper


COMMIT = "commit (the outermost transaction's end)"


def _timed_commits(spent: Counter[str], transaction: Any) -> Any:
    @contextmanager
    def wrapper(self: Any) -> Iterator[Any]:
        inner = transaction(self)
        db = inner.__enter__()
        try:
            yield db
        except BaseException:
            if not inner.__exit__(*sys.exc_info()):
                raise
        else:
            start = time.perf_counter()
            inner.__exit__(None, None, None)
            spent[COMMIT] += time.perf_counter() - start

    return wrapper


def parts(n: int, folder: Path) -> tuple[float, dict[str, float]]:
    spent: Counter[str] = Counter()
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in PARTS]
    saved.append((sqlite.Store, "transaction", sqlite.Store.transaction))
    for owner, name, label in PARTS:
        setattr(owner, name, _timed(spent, label, getattr(owner, name)))
    sqlite.Store.transaction = _timed_commits(spent, sqlite.Store.transaction)  # type: ignore
    try:
        common.lienthong_durable(20, "normal", folder / "warm")
        spent.clear()
        elapsed, handoffs, _ = common.lienthong_durable(n, "normal", folder / "timed")
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    per = {label: spent[label] / handoffs * 1e6 for label in [*(p[2] for p in PARTS), COMMIT]}
    return elapsed / handoffs * 1e6, per


def spiff_per_handoff(n: int) -> float:
    elapsed, handoffs, _ = common.spiff_memory(n)
    return elapsed / handoffs * 1e6


def wal_frames(folder: Path) -> tuple[list[int], Counter[str]]:
    """WAL frames written by each command of one dossier (receive, then each step completed),
    and the dossier's frames by the table or index whose page each one is (SQLite's ``dbstat``;
    ``sqlite_schema`` is page 1, written when the file grows)."""
    eng = common.make_engine(folder / "frames.db", "normal", checkpoints="inline")
    eng.db.execute("PRAGMA wal_autocheckpoint=0")
    members = common.officers(eng)
    for _ in range(20):  # a store that already holds some dossiers
        common.run_dossier(eng, members)
    wal = folder / "frames.db-wal"
    page = eng.db.execute("PRAGMA page_size").fetchone()[0]
    eng.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    common.run_dossier(eng, members)
    data = wal.read_bytes()
    try:
        owner = dict(eng.db.execute("SELECT pageno, name FROM dbstat").fetchall())
    except sqlite3.Error:  # an SQLite built without the dbstat table
        owner = {}
    counts, frames, offset = [], 0, 32
    by_btree: Counter[str] = Counter()
    while offset + 24 <= len(data):
        page_no, commit_size = struct.unpack(">II", data[offset : offset + 8])
        by_btree[owner.get(page_no, "?")] += 1
        frames += 1
        if commit_size:  # the frame that commits a transaction
            counts.append(frames)
            frames = 0
        offset += 24 + page
    eng.close()
    return counts, by_btree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        total, per = parts(args.dossiers, Path(tmp))
        spiff = spiff_per_handoff(args.dossiers)
        frames, by_btree = wal_frames(Path(tmp))
    print(f"lienthong, one handoff: {total:6.0f} us in all (timers included)")
    for label, us in per.items():
        print(f"  {label:48s} {us:6.0f} us")
    print(f"SpiffWorkflow alone, one handoff (bench/handoffs.py (a)): {spiff:6.0f} us")
    print(f"WAL pages per command of one dossier (receive first): {frames}, {sum(frames)} in all")
    print("  by table or index: " + ", ".join(f"{k} {n}" for k, n in by_btree.most_common()))
    print(
        json.dumps(
            {
                "handoff_us": round(total, 1),
                "spiff_memory_handoff_us": round(spiff, 1),
                "parts_us": {k: round(v, 1) for k, v in per.items()},
                "wal_frames_per_command": frames,
                "wal_frames_by_btree": dict(by_btree.most_common()),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
