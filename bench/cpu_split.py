"""Where a lienthong handoff's CPU goes: loop (c) of bench/handoffs.py, its wall time against the
CPU each thread of the process used (from ``/proc/self/task``), user against kernel time, and the
context switches, per handoff.

    .venv/bin/python bench/cpu_split.py [--dossiers N] [--warm-up N]
    .venv/bin/python bench/versus.py REV --runs 3 --bench cpu_split.py --fields wall_us,main_cpu_us

The loop is the one of the ``bench/handoffs.py`` in the current folder (so that versus.py
measures REV with REV's loop). Wall time is what an officer waits; a handoff's CPU above its wall
time was spent by another thread meanwhile (the WAL checkpoints, the operation thread), and a
wall time above the CPU is waiting (the scheduler, the disk). The baseline is versus.py's other
tree, run alternately in the same sitting. The last line is a JSON object; ``ratio_cpu`` is the
engine thread's CPU over the wall time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

HANDOFFS_PER_DOSSIER = 7


def _load_handoffs() -> Any:
    folder = Path.cwd() / "bench"
    folder = folder if (folder / "handoffs.py").exists() else Path(__file__).parent
    spec = importlib.util.spec_from_file_location("handoffs", folder / "handoffs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _threads() -> dict[str, float]:
    """CPU seconds of each thread of this process so far, by thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue  # ended meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        out[tid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=400)
    ap.add_argument("--warm-up", type=int, default=30)
    args = ap.parse_args()
    h = _load_handoffs()
    me = str(os.getpid())  # the main thread's id is the process's
    with tempfile.TemporaryDirectory() as tmp:
        engine = h.make_engine(Path(tmp) / "bench.db", "normal")
        members = h.officers(engine)
        for _ in range(args.warm_up):
            h.run_dossier(engine, members)
        r0, c0 = resource.getrusage(resource.RUSAGE_SELF), _threads()
        start = time.perf_counter()
        for _ in range(args.dossiers):
            h.run_dossier(engine, members)
        wall = time.perf_counter() - start
        r1, c1 = resource.getrusage(resource.RUSAGE_SELF), _threads()
        engine.close()
    n = args.dossiers * HANDOFFS_PER_DOSSIER
    main_cpu = c1[me] - c0.get(me, 0.0)
    others = sum(c - c0.get(t, 0.0) for t, c in c1.items() if t != me)
    figures = {
        "dossiers": args.dossiers,
        "wall_us": round(wall / n * 1e6, 1),
        "main_cpu_us": round(main_cpu / n * 1e6, 1),
        "other_threads_cpu_us": round(others / n * 1e6, 1),
        "user_us": round((r1.ru_utime - r0.ru_utime) / n * 1e6, 1),
        "kernel_us": round((r1.ru_stime - r0.ru_stime) / n * 1e6, 1),
        "voluntary_switches_per_dossier": round((r1.ru_nvcsw - r0.ru_nvcsw) / args.dossiers, 2),
        "ratio_cpu": round(main_cpu / wall, 3),
    }
    print(
        f"{args.dossiers} dossiers after {args.warm_up}, a handoff: wall {figures['wall_us']} us; "
        f"CPU of the engine's thread {figures['main_cpu_us']} us, of the others "
        f"{figures['other_threads_cpu_us']} us; user {figures['user_us']} us, kernel "
        f"{figures['kernel_us']} us; {figures['voluntary_switches_per_dossier']} voluntary "
        "context switches a dossier"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
