"""What the national portal's hook costs: handoffs per second of bench/handoffs.py's loop with
no plugin implementing ``portal_record_changed`` (the baseline) and with one that writes each
record to an outbox table (what a portal plugin should do), in interleaved rounds of one run.

    .venv/bin/python bench/portal.py [--dossiers N] [--rounds N]

With the hook implemented, every command that changes a dossier is followed by a short
transaction of the hook's own in which the record and the progress records are built from the
store (lienthong.portal) and the plugin is called. Handoffs per second of the process's CPU
time (every thread's), which the machine's load moves less than wall time; wall time beside it.
The last line is a JSON object; ``ratio_portal`` is the CPU-time handoffs per second with the
outbox plugin over those without (1.0: free), ``ratio_portal_wall`` the same in wall time,
``ratio_portal_noop`` with a plugin that does nothing (lienthong's side alone: the hook's
transaction, the record and the progress records built).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder,
# and load bench/handoffs.py (its engine and loop) by its path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
_spec = importlib.util.spec_from_file_location("handoffs", HERE / "handoffs.py")
assert _spec is not None and _spec.loader is not None
handoffs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(handoffs)

from lienthong import hookimpl  # noqa: E402


class Noop:
    """Takes the record and does nothing: what lienthong's side costs alone."""

    @hookimpl
    def portal_record_changed(self, record: dict[str, Any]) -> None:
        pass


class Outbox:
    """Keeps each record as JSON in an outbox table, as docs/portal.md advises."""

    @hookimpl
    def portal_record_changed(self, record: dict[str, Any], progress: list, db: Any) -> None:
        db["portal_outbox"].insert(
            {
                "code": record["MaHoSo"],
                "status": record["TrangThaiHoSo"],
                "record": json.dumps(record, ensure_ascii=False),
                "progress": json.dumps(progress[-1:], ensure_ascii=False),
            }
        )


def run(n: int, folder: Path, plugin: object | None) -> tuple[float, float, int, int]:
    engine = handoffs.make_engine(folder / f"portal-{id(plugin)}.db", "normal")
    if plugin is not None:
        engine.pm.register(plugin)
    members = handoffs.officers(engine)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        handoffs.run_dossier(engine, members)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    done = engine.db.execute("SELECT count(*) FROM steps WHERE status = 'done'").fetchone()[0]
    sent = (
        engine.db.execute("SELECT count(*) FROM portal_outbox").fetchone()[0]
        if engine.db["portal_outbox"].exists()
        else 0
    )
    engine.close()
    return cpu, elapsed, done, sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=100, help="dossiers per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    best = {"none": 0.0, "noop": 0.0, "outbox": 0.0}
    wall = {"none": 0.0, "noop": 0.0, "outbox": 0.0}
    sent = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, plugin in (("none", None), ("noop", Noop()), ("outbox", Outbox())):
                cpu, elapsed, done, n = run(args.dossiers, Path(tmp) / f"r{r}", plugin)
                best[name] = max(best[name], done / cpu)
                wall[name] = max(wall[name], done / elapsed)
                sent = max(sent, n)
    ratio = best["outbox"] / best["none"]
    ratio_wall = wall["outbox"] / wall["none"]
    ratio_noop = best["noop"] / best["none"]
    print(f"{args.dossiers} khai sinh dossiers a round, best of {args.rounds} interleaved rounds")
    print("                               handoffs/s of CPU time   of wall time")
    print(f"  no portal plugin            {best['none']:12.0f} {wall['none']:16.0f}")
    print(
        f"  a plugin that does nothing  {best['noop']:12.0f} {wall['noop']:16.0f}"
        f"   = {ratio_noop:.2f} x"
    )
    print(
        f"  an outbox portal plugin     {best['outbox']:12.0f} {wall['outbox']:16.0f}"
        f"   = {ratio:.2f} x ({ratio_wall:.2f} x wall)"
    )
    print(f"  records written a round     {sent:12d}")
    print(
        json.dumps(
            {
                "dossiers": args.dossiers,
                "rounds": args.rounds,
                "none_hps_cpu": round(best["none"], 1),
                "noop_hps_cpu": round(best["noop"], 1),
                "outbox_hps_cpu": round(best["outbox"], 1),
                "none_hps_wall": round(wall["none"], 1),
                "outbox_hps_wall": round(wall["outbox"], 1),
                "records_per_round": sent,
                "ratio_portal": round(ratio, 3),
                "ratio_portal_wall": round(ratio_wall, 3),
                "ratio_portal_noop": round(ratio_noop, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
