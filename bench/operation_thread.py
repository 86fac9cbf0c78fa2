"""What the operation thread costs a handoff: loop (c) of bench/handoffs.py with each service
operation run in the engine's operation thread (as lienthong does on a file) and in the engine's
own thread, alternately, in one process and on one file.

    .venv/bin/python bench/operation_thread.py [--blocks N] [--dossiers N]

The second way is what lienthong does for an in-memory store (``lienthong.engine.calls``): the
call runs inside the transaction that records its result, and its timeout is not enforced. It is
measured here only to price the hand-over between the two threads, not offered as a setting: on
a file, an agency that does not answer must not hold up the engine past its timeout. Blocks of
``--dossiers`` dossiers alternate (the order reversed every other block), so that both ways share
whatever load the machine has. Also printed: each way's voluntary context switches a dossier
(``getrusage``), the number of times the process waited for the scheduler on its own account.
The last line is a JSON object; ``ratio_thread`` is the threaded rate over the other (the thread
costs ``1 - ratio_thread`` of a handoff).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong.engine import calls  # noqa: E402

HANDOFFS_PER_DOSSIER = 7


def _load_handoffs() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "handoffs", Path(__file__).with_name("handoffs.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--dossiers", type=int, default=20, help="dossiers a block")
    args = ap.parse_args()
    h = _load_handoffs()
    threaded = calls.Calls.threaded
    ways = {"thread": threaded, "engine thread": property(lambda self: False)}
    spent = dict.fromkeys(ways, 0.0)
    switches = dict.fromkeys(ways, 0)
    with tempfile.TemporaryDirectory() as tmp:
        engine = h.make_engine(Path(tmp) / "bench.db", "normal")
        members = h.officers(engine)
        for _ in range(30):
            h.run_dossier(engine, members)
        try:
            for b in range(args.blocks):
                order = list(ways) if b % 2 else list(ways)[::-1]
                for way in order:
                    calls.Calls.threaded = ways[way]  # type: ignore[method-assign]
                    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
                    start = time.perf_counter()
                    for _ in range(args.dossiers):
                        h.run_dossier(engine, members)
                    spent[way] += time.perf_counter() - start
                    switches[way] += resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - before
        finally:
            calls.Calls.threaded = threaded  # type: ignore[method-assign]
        engine.close()
    dossiers = args.blocks * args.dossiers
    hps = {way: dossiers * HANDOFFS_PER_DOSSIER / t for way, t in spent.items()}
    print(f"{args.blocks} blocks of {args.dossiers} dossiers each way, alternating")
    for way in ways:
        print(
            f"  operations in the {way:14s} {hps[way]:8.0f} handoffs/s, "
            f"{switches[way] / dossiers:5.1f} voluntary context switches a dossier"
        )
    ratio = hps["thread"] / hps["engine thread"]
    print(f"  threaded / engine thread: {ratio:.3f}")
    print(
        json.dumps(
            {
                "blocks": args.blocks,
                "dossiers": args.dossiers,
                "thread_hps": round(hps["thread"], 1),
                "engine_thread_hps": round(hps["engine thread"], 1),
                "thread_switches": round(switches["thread"] / dossiers, 2),
                "engine_thread_switches": round(switches["engine thread"] / dossiers, 2),
                "ratio_thread": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
