"""Commands per second when 1, 2 and 4 processes share one file, and how long a command waits.

    .venv/bin/python bench/contention.py [--seconds S] [--processes 1,2,4] [--service-ms N]
                                         [--durability normal|full]

Each process opens its own Engine on the same file and runs the loop of ``bench/handoffs.py`` (c)
for ``--seconds``: receive a dossier of the sample procedure, complete its user steps (the two
service steps run inside the commands that open them), again. The processes start together (a
barrier); every ``receive`` and ``complete`` is timed. Printed per process count: the commands
per second of all processes together, the latency percentiles, and the errors, lienthong's (by
class) and raw ones (anything else; there must be none).

``--service-ms N`` makes the stub agency of ONE process (the first) sleep N ms in each service
operation, as a slow agency system would; the same process count then also runs without it, so
that the other processes' throughput with and without a slow neighbour is measured in the same
run. Service steps run inside the command's transaction, holding the write lock meanwhile.

The last line is a JSON object; its ``ratio_*`` fields are what ``bench/versus.py`` compares.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from lienthong import LienthongError, hookimpl  # noqa: E402


def _load_handoffs() -> Any:
    """bench/handoffs.py, whose loop and helpers this runs (this folder is not on sys.path)."""
    import importlib.util

    path = Path(__file__).with_name("handoffs.py")
    spec = importlib.util.spec_from_file_location("handoffs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_handoffs()
#: Seconds any process waits at the starting barrier before the run is called off.
BARRIER_SECONDS = 120


class SlowAgencies(common.Agencies):  # type: ignore[misc,name-defined]
    """The stub agencies, answering after ``delay`` seconds."""

    delay = 0.0

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any]:
        time.sleep(self.delay)
        answer: dict[str, Any] = super().perform_operation(operation)
        return answer


def worker(
    path: str, index: int, seconds: float, service_ms: int, durability: str, barrier: Any, out: Any
) -> None:
    if service_ms and index == 0:
        SlowAgencies.delay = service_ms / 1000
        # make_engine registers the Agencies its module names: in this process only, the slow ones.
        common.Agencies = SlowAgencies
    engine = common.make_engine(Path(path), durability)
    members = common.officers(engine)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    raw: Counter[str] = Counter()

    def timed(fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                latencies.append(time.perf_counter() - start)

        return call

    engine.receive = timed(engine.receive)  # type: ignore[method-assign]
    engine.complete = timed(engine.complete)  # type: ignore[method-assign]
    barrier.wait(BARRIER_SECONDS)
    # CLOCK_MONOTONIC is one clock for every process of the machine: the parent compares them.
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            common.run_dossier(engine, members)
        except LienthongError as e:
            errors[type(e).__name__] += 1
        except Exception as e:  # counted, never raised: the figure says whether there were any
            raw[f"{type(e).__name__}: {e}"] += 1
    ended = time.monotonic()
    engine.close()
    out.put(
        {
            "index": index,
            "slow": bool(service_ms and index == 0),
            "started": started,
            "ended": ended,
            "latencies": latencies,
            "errors": dict(errors),
            "raw": dict(raw),
        }
    )


def run(processes: int, seconds: float, service_ms: int, durability: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contention.db"
        common.make_engine(path, durability).close()  # the schema and the procedure, once
        barrier = ctx.Barrier(processes)
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=worker,
                args=(str(path), i, seconds, service_ms, durability, barrier, out),
            )
            for i in range(processes)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=BARRIER_SECONDS + seconds * 10) for _ in procs]
        for p in procs:
            p.join()
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    every = sorted(x for r in results for x in r["latencies"])
    errors: Counter[str] = Counter()
    raw: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
        raw.update(r["raw"])

    def rate(rs: list[dict[str, Any]]) -> float | None:
        if not rs:
            return None
        return statistics.mean(len(r["latencies"]) / (r["ended"] - r["started"]) for r in rs)

    def pct(q: float) -> float:
        return every[min(len(every) - 1, int(q * len(every)))] * 1000

    return {
        "processes": processes,
        "service_ms": service_ms,
        "commands": len(every),
        "commands_per_s": round(len(every) / span, 1),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(every[-1] * 1000, 2),
        "slow_process_per_s": _round(rate([r for r in results if r["slow"]])),
        "other_process_per_s": _round(rate([r for r in results if not r["slow"]])),
        "lienthong_errors": dict(errors),
        "raw_errors": sum(raw.values()),
        "raw_error_kinds": dict(raw),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="how long each run lasts")
    ap.add_argument("--processes", default="1,2,4", help="process counts, comma-separated")
    ap.add_argument("--service-ms", type=int, default=0, help="one process's agency delay")
    ap.add_argument("--durability", choices=["normal", "full"], default="normal")
    args = ap.parse_args()
    counts = [int(x) for x in args.processes.split(",")]
    runs = []
    for n in counts:
        runs.append(run(n, args.seconds, 0, args.durability))
        if args.service_ms:
            runs.append(run(n, args.seconds, args.service_ms, args.durability))
    print(f"the sample procedure on one file, {args.seconds:g} s a run, SQLite WAL, "
          f"synchronous={args.durability.upper()}; commands = receive + complete")
    print(f"{'processes':>9} {'slow ms':>7} {'commands/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'others/s each':>13} {'slow one/s':>10} {'errors':>6} {'raw':>4}")
    for r in runs:
        others = r["other_process_per_s"]
        slow = r["slow_process_per_s"]
        print(f"{r['processes']:>9} {r['service_ms']:>7} {r['commands_per_s']:>10.0f} "
              f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.0f} "
              f"{'-' if others is None else f'{others:.0f}':>13} "
              f"{'-' if slow is None else f'{slow:.0f}':>10} "
              f"{sum(r['lienthong_errors'].values()):>6} {r['raw_errors']:>4}")
        for kind, n in r["raw_error_kinds"].items():
            print(f"    raw x{n}: {kind}")
        for kind, n in r["lienthong_errors"].items():
            print(f"    {kind} x{n}")
    base = {r["processes"]: r for r in runs if not r["service_ms"]}
    summary: dict[str, Any] = {
        "seconds": args.seconds,
        "durability": args.durability,
        "service_ms": args.service_ms,
        "runs": runs,
        "raw_errors": sum(r["raw_errors"] for r in runs),
    }
    if 1 in base:
        one = base[1]["commands_per_s"]
        for n, r in base.items():
            if n != 1:
                summary[f"ratio_{n}_to_1"] = round(r["commands_per_s"] / one, 3)
    for r in runs:
        other = r["other_process_per_s"]
        if r["service_ms"] and other is not None:
            plain = base[r["processes"]]["other_process_per_s"]
            summary[f"ratio_others_slowed_{r['processes']}"] = round(other / plain, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
