"""The organisation in the database: what naming units and officers costs, and what storing the
organisation adds to opening an Engine.

    .venv/bin/python bench/orgs.py [--units U] [--officers N] [--versions V] [--rounds R]

A province of U units and N officers is stored as V versions, each the one before with 1 % of the
officers gone, as many new ones, and 1 % renamed (HR changes: a version a week is 50 a year).
Then, each the best of R rounds:

- ``names``: :func:`lienthong.store.orgs.names`, one read of ``organisation_names``, against the
  baseline written here, which merges every stored version's JSON in order (what ``names`` would
  cost without that table). Both must give the same names first.
- ``open``: ``Engine(file, org=...)`` with the current organisation, against the same with the
  recording of the organisation switched off: what this adds to every engine that opens.

The last line printed is a JSON object with the figures and the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong import Engine, FixedClock, Officer, Organisation, Unit  # noqa: E402
from lienthong.engine import organisation as engine_organisation  # noqa: E402
from lienthong.legaltime.clock import VN_TZ  # noqa: E402
from lienthong.store import Store, orgs  # noqa: E402


def province(units: int, officers: int, versions: int) -> list[Organisation]:
    """V versions of one province's organisation, each changing 1 % of its officers twice."""
    us = [
        Unit(code=f"000.{i // 100:02d}.{i % 100:02d}.H29", name=f"Đơn vị số {i}")
        for i in range(units)
    ]
    us = [us[0], *(Unit(code=u.code, name=u.name, parent=us[0].code) for u in us[1:])]
    staff = [
        Officer(id=f"can.bo.{i}", name=f"Cán bộ {i}", unit=us[i % units].code)
        for i in range(officers)
    ]
    step = max(1, officers // 100)
    out = []
    for v in range(versions):
        out.append(Organisation.build(us, staff))
        gone = set(range(v * step, (v + 1) * step))
        staff = [o for k, o in enumerate(staff) if k not in gone]
        staff += [
            Officer(id=f"moi.{v}.{k}", name=f"Cán bộ mới {v}.{k}", unit=us[k % units].code)
            for k in range(step)
        ]
        staff = [
            Officer(id=o.id, name=f"{o.name} (v{v})", unit=o.unit) if k % 100 == v % 100 else o
            for k, o in enumerate(staff)
        ]
    return out


def merged_from_json(store: Store) -> orgs.Names:
    """The baseline: every version's data read and merged in the order they became current."""
    units: dict[str, str] = {}
    officers: dict[str, str] = {}
    officer_units: dict[str, str] = {}
    for (text,) in store.db.conn.execute("SELECT data FROM organisations ORDER BY seq"):
        data = json.loads(text)
        for u in data["units"]:
            units[u["code"]] = u["name"]
        for o in data["officers"]:
            officers[o["id"]] = o["name"]
            officer_units[o["id"]] = o["unit"]
    return orgs.Names(units=units, officers=officers, officer_units=officer_units)


def best(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--officers", type=int, default=5000)
    ap.add_argument("--versions", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    versions = province(args.units, args.officers, args.versions)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orgs.db"
        store = Store(path, checkpoints="inline")
        start = time.perf_counter()
        for i, org in enumerate(versions):
            with store.transaction() as db:
                orgs.save(db, org.to_data(), org.version, f"2025-01-01T08:{i % 60:02d}:00+07:00")
        saving = (time.perf_counter() - start) / len(versions)
        if orgs.names(store.db) != merged_from_json(store):
            raise SystemExit("names() and the baseline disagree")
        table = best(lambda: orgs.names(store.db), args.rounds)
        baseline = best(lambda: merged_from_json(store), args.rounds)
        store.close()

        current = versions[-1]
        clock = FixedClock(datetime(2025, 3, 3, 9, tzinfo=VN_TZ))

        def open_engine() -> None:
            Engine(path, org=current, clock=clock, entry_points=False, checkpoints="inline").close()

        open_engine()  # the stored current version from here on
        with_record = best(open_engine, args.rounds)
        kept = engine_organisation.record
        engine_organisation.record = lambda *a, **k: None  # type: ignore[assignment]
        try:
            without = best(open_engine, args.rounds)
        finally:
            engine_organisation.record = kept
    n_names = len(orgs.Names.of(current).officers)
    print(
        f"{args.units} units, {args.officers} officers, {args.versions} versions "
        f"(1 % of officers leave, join and are renamed in each); best of {args.rounds}"
    )
    print(f"  save one version (to_data, hash, rows)      {saving * 1e3:8.1f} ms")
    print(
        f"  names(): organisation_names                 {table * 1e3:8.1f} ms   "
        f"merging every version's JSON {baseline * 1e3:8.1f} ms   ({baseline / table:.1f}x)"
    )
    print(
        f"  Engine open, its organisation current       {with_record * 1e3:8.1f} ms   "
        f"without recording it {without * 1e3:8.1f} ms   (+{(with_record - without) * 1e3:.1f} ms)"
    )
    print(
        json.dumps(
            {
                "units": args.units,
                "officers": args.officers,
                "current_officers": n_names,
                "versions": args.versions,
                "save_ms": round(saving * 1e3, 2),
                "names_ms": round(table * 1e3, 2),
                "names_baseline_ms": round(baseline * 1e3, 2),
                "names_ratio": round(baseline / table, 2),
                "open_ms": round(with_record * 1e3, 2),
                "open_without_record_ms": round(without * 1e3, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
