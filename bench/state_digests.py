"""What the audit rows' state digests (``verify --deep``) cost a handoff.

    .venv/bin/python bench/state_digests.py [--dossiers N] [--rounds R]

Two measures, each against its baseline in the same run:

1. The loop of ``bench/handoffs.py`` (lienthong, committed per command) with the digests as they
   are, and with them switched off (every audit row's digest NULL, the writes telling nobody), in
   interleaved rounds on fresh files, each side's best round: ``ratio`` (handoffs per second,
   with ÷ without, by the wall clock; 1.0: free) and ``ratio_cpu`` (by the main thread's CPU
   time). On a shared machine both swing by several per cent from run to run.
2. Steadier: every call the store made to the tracker during 30 dossiers is recorded, then
   replayed (inside a transaction rolled back), the best of 15 replays: ``digest_cpu_us`` and
   ``digest_wall_us`` per handoff, and ``share_cpu`` / ``share_wall``, their share of a
   handoff's best-round main-thread CPU time and wall time.

The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import timeit
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong.store import tracker  # noqa: E402


def _load_handoffs() -> Any:
    """bench/handoffs.py, whose loop this runs (this folder is not on sys.path)."""
    import importlib.util

    path = Path(__file__).with_name("handoffs.py")
    spec = importlib.util.spec_from_file_location("handoffs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_handoffs()
_TOLD = (
    "dossier_inserted",
    "dossier_updated",
    "step_inserted",
    "step_updated",
    "steps_written",
    "all_steps_written",
)


@contextmanager
def switched_off() -> Iterator[None]:
    """No digest: audit rows get NULL, writes tell no tracker."""
    saved = {name: getattr(tracker, name) for name in ("digests", *_TOLD)}

    def none(db: Any, codes: Iterable[str]) -> dict[str, None]:
        return dict.fromkeys(codes)

    tracker.digests = none  # type: ignore[assignment]
    for name in _TOLD:
        setattr(tracker, name, lambda *a, **k: None)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(tracker, name, fn)


def _round(n: int, folder: Path) -> tuple[float, float]:
    """Handoffs per second of one round: by the wall clock, and by the main thread's CPU time
    (the digests are all CPU in the main thread; other processes' load does not count in it,
    nor does the disk, so this one overstates the digests' share)."""
    cpu = time.thread_time()
    t, h, _ = common.lienthong_durable(n, "normal", folder)
    return h / t, h / (time.thread_time() - cpu)


def replayed(folder: Path) -> tuple[float, float, float, float]:
    """(the tracker's CPU µs per handoff, its wall µs, a handoff's best CPU µs, its best wall
    µs): see the module's docstring."""
    names = ("began", "digests", *_TOLD)
    saved = {name: getattr(tracker, name) for name in names}
    calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def recording(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append((fn, args, kwargs))
            return fn(*args, **kwargs)

        return wrapper

    engine = common.make_engine(folder / "replay.db", "normal")
    members = common.officers(engine)
    for _ in range(5):
        common.run_dossier(engine, members)
    before = engine.db.execute("SELECT count(*) FROM steps WHERE status = 'done'").fetchone()[0]
    for name, fn in saved.items():
        setattr(tracker, name, recording(fn))
    try:
        for _ in range(30):
            common.run_dossier(engine, members)
    finally:
        for name, fn in saved.items():
            setattr(tracker, name, fn)
    handoffs = engine.db.execute("SELECT count(*) FROM steps WHERE status = 'done'").fetchone()[0]
    handoffs -= before

    def replay() -> None:
        for fn, args, kwargs in calls:
            fn(*args, **kwargs)

    conn = engine.db.conn
    conn.execute("BEGIN")
    # CPU time against CPU time, wall against wall: a loaded machine inflates the two apart.
    best_cpu = min(timeit.repeat(replay, number=1, repeat=15, timer=time.thread_time))
    best_wall = min(timeit.repeat(replay, number=1, repeat=15))
    conn.execute("ROLLBACK")
    engine.close()
    cpu = wall = float("inf")
    for r in range(5):
        engine = common.make_engine(folder / f"handoffs{r}.db", "normal")
        members = common.officers(engine)
        for _ in range(5):
            common.run_dossier(engine, members)
        start, started = time.thread_time(), time.perf_counter()
        for _ in range(30):
            common.run_dossier(engine, members)
        cpu = min(cpu, (time.thread_time() - start) / handoffs)
        wall = min(wall, (time.perf_counter() - started) / handoffs)
        engine.close()
    per = 1e6 / handoffs
    return best_cpu * per, best_wall * per, cpu * 1e6, wall * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=60, help="dossiers per round")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    n = args.dossiers
    best = {"on": [0.0, 0.0], "off": [0.0, 0.0]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        common.lienthong_durable(20, "normal", folder / "warm")
        for r in range(args.rounds):
            # Which side goes first alternates, so that neither always follows the other.
            for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                if side == "on":
                    wall, cpu = _round(n, folder / f"on{r}")
                else:
                    with switched_off():
                        wall, cpu = _round(n, folder / f"off{r}")
                best[side] = [max(best[side][0], wall), max(best[side][1], cpu)]
        digest_cpu, digest_wall, handoff_cpu, handoff_wall = replayed(folder)
    (on, on_cpu), (off, off_cpu) = best["on"], best["off"]
    print(f"{n} khai sinh dossiers a round, best of {args.rounds} interleaved rounds each")
    print(f"  with state digests     {on:8.0f} handoffs/s   {on_cpu:8.0f} per CPU second")
    print(f"  without (NULL digests) {off:8.0f} handoffs/s   {off_cpu:8.0f} per CPU second")
    print(f"  with / without: {on / off:.3f} by the clock, {on_cpu / off_cpu:.3f} by CPU time")
    print(f"  the tracker's calls of 30 dossiers, replayed: {digest_cpu:.1f} us of CPU a handoff "
          f"= {digest_cpu / handoff_cpu * 100:.2f}% of its CPU time ({handoff_cpu:.0f} us); "
          f"{digest_wall:.1f} us by the clock = {digest_wall / handoff_wall * 100:.2f}% of its "
          f"wall time ({handoff_wall:.0f} us)")
    print(json.dumps({
        "dossiers": n, "rounds": args.rounds, "with_hps": round(on, 1),
        "without_hps": round(off, 1), "ratio": round(on / off, 3),
        "with_cpu_hps": round(on_cpu, 1), "without_cpu_hps": round(off_cpu, 1),
        "ratio_cpu": round(on_cpu / off_cpu, 3), "digest_cpu_us": round(digest_cpu, 1),
        "digest_wall_us": round(digest_wall, 1), "share_cpu": round(digest_cpu / handoff_cpu, 4),
        "share_wall": round(digest_wall / handoff_wall, 4),
    }))


if __name__ == "__main__":
    main()
