"""What the reports' two indexes on finished steps cost a handoff: loop (c) of bench/handoffs.py
on three files in one process, alternately: as migration 007 built them (every step, open or not),
made partial (``WHERE closed_at IS NOT NULL``), and dropped.

    .venv/bin/python bench/finished_indexes.py [--blocks N] [--dossiers N]

``steps_officer_finished`` and ``steps_unit_finished`` index every row of ``steps``: a step opened
writes an entry in each, and closing it moves the entry (its ``result_class`` and ``closed_at``
change). Partial, they get one entry a step, when it closes; as each commit closes a step, the
pages a dossier writes stay the same (102, ``bench/handoff_parts.py``). The files here are
changed by this script only (``DROP INDEX``, ``CREATE INDEX``), to price a migration before anyone
writes one; whether the reports' queries would still use the partial indexes is not checked.
Blocks of ``--dossiers`` dossiers alternate, the order reversed every other block, so that all
three share the machine's load. The last line is a JSON object; each ``ratio_*`` is that
variant's rate over the rate as built.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

HANDOFFS_PER_DOSSIER = 7
_DROP = ["DROP INDEX steps_officer_finished", "DROP INDEX steps_unit_finished"]
VARIANTS: dict[str, list[str]] = {
    "as built": [],
    "partial": [
        *_DROP,
        "CREATE INDEX steps_officer_finished ON steps(closed_by, unit, result_class, closed_at) "
        "WHERE closed_at IS NOT NULL",
        "CREATE INDEX steps_unit_finished ON steps(unit, role, result_class, closed_at) "
        "WHERE closed_at IS NOT NULL",
    ],
    "dropped": _DROP,
}


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
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--dossiers", type=int, default=20, help="dossiers a block")
    args = ap.parse_args()
    h = _load_handoffs()
    spent = dict.fromkeys(VARIANTS, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        engines = {}
        for i, (name, sql) in enumerate(VARIANTS.items()):
            engine = h.make_engine(Path(tmp) / f"{i}.db", "normal")
            for statement in sql:
                engine.db.execute(statement)
            members = h.officers(engine)
            for _ in range(30):
                h.run_dossier(engine, members)
            engines[name] = (engine, members)
        for b in range(args.blocks):
            for name in list(VARIANTS) if b % 2 else list(VARIANTS)[::-1]:
                engine, members = engines[name]
                start = time.perf_counter()
                for _ in range(args.dossiers):
                    h.run_dossier(engine, members)
                spent[name] += time.perf_counter() - start
        for engine, _ in engines.values():
            engine.close()
    handoffs = args.blocks * args.dossiers * HANDOFFS_PER_DOSSIER
    hps = {name: handoffs / t for name, t in spent.items()}
    print(f"{args.blocks} blocks of {args.dossiers} dossiers each, alternating")
    for name in VARIANTS:
        print(f"  {name:9s} {hps[name]:8.0f} handoffs/s  x {hps[name] / hps['as built']:.3f}")
    print(
        json.dumps(
            {
                "blocks": args.blocks,
                "dossiers": args.dossiers,
                **{f"{name.replace(' ', '_')}_hps": round(v, 1) for name, v in hps.items()},
                "ratio_partial": round(hps["partial"] / hps["as built"], 3),
                "ratio_dropped": round(hps["dropped"] / hps["as built"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
