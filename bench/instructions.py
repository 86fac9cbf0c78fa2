"""Instructions a handoff takes, counted by valgrind (callgrind): lienthong's loop (c) of
bench/handoffs.py against SpiffWorkflow in memory, loop (a), in the same run.

    .venv/bin/python bench/instructions.py [--dossiers N]

A count of instructions does not move with the machine's load, as times on a shared machine do;
it leaves out what the kernel does (the WAL's writes, locks, waking the operation thread) and how
fast each instruction runs, so it complements bench/handoffs.py rather than replacing it. Each
side runs in a process of its own under callgrind, counting only inside the measured loop (the
dossiers after 20 to warm up), every thread included. The last line is a JSON object;
``ratio_instructions`` is SpiffWorkflow's count a handoff over lienthong's (like handoffs.py's
``ratio_memory``, higher is better). Needs ``valgrind``; takes a few minutes.

The loop's helpers come from ``bench/handoffs.py`` of the current folder if it has one (so that
``bench/versus.py REV --bench instructions.py`` measures REV with REV's helpers), else of this
script's folder.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HANDOFFS_PER_DOSSIER = 7
WARM_UP = 20


def _helpers() -> Any:
    folder = Path.cwd() / "bench"
    folder = folder if (folder / "handoffs.py").exists() else HERE
    # bench/calendar.py would shadow the standard library's calendar module: import the one file.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    import importlib.util

    spec = importlib.util.spec_from_file_location("handoffs", folder / "handoffs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(side: str, n: int) -> None:
    """The measured loop; callgrind counts only inside functools.reduce."""
    h = _helpers()
    if side == "spiff":
        proc = h.load_procedure(h.BPMN)
        workflow = h.BpmnWorkflow

        def dossier(_: object, __: object) -> None:
            wf = workflow(proc.spec, proc.subprocess_specs)
            wf.do_engine_steps()
            while h._spiff_step(wf):
                pass

        for _ in range(WARM_UP):
            dossier(None, None)
        functools.reduce(dossier, range(n), None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        engine = h.make_engine(Path(tmp) / "x.db", "normal")
        members = h.officers(engine)
        for _ in range(WARM_UP):
            h.run_dossier(engine, members)
        functools.reduce(lambda _, __: h.run_dossier(engine, members), range(n), None)
        engine.close()


def count(side: str, n: int) -> int:
    """Instructions callgrind counted in one side's loop of ``n`` dossiers."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            sys.executable,
            __file__,
            "--child",
            side,
            "--dossiers",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=30)
    ap.add_argument("--child", choices=["spiff", "lienthong"])
    args = ap.parse_args()
    if args.child:
        child(args.child, args.dossiers)
        return
    n = args.dossiers
    per = {side: count(side, n) / (n * HANDOFFS_PER_DOSSIER) for side in ("spiff", "lienthong")}
    print(f"{n} dossiers a side, {HANDOFFS_PER_DOSSIER} handoffs each, instructions a handoff:")
    print(f"  SpiffWorkflow in memory          {per['spiff']:12,.0f}")
    print(f"  lienthong, committed per command {per['lienthong']:12,.0f}")
    print(
        json.dumps(
            {
                "dossiers": n,
                "spiff_memory_instructions": round(per["spiff"]),
                "lienthong_instructions": round(per["lienthong"]),
                "ratio_instructions": round(per["spiff"] / per["lienthong"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
