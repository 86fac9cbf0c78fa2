"""Commands per second when 1, 2 and 4 processes share one file, and how long a command waits.

    .venv/bin/python bench/contention.py [--seconds S] [--processes 1,2,4] [--service-ms N]
                                         [--rounds R] [--durability normal|full]

Each process opens its own Engine on the same file and runs the loop of ``bench/handoffs.py`` (c)
for ``--seconds``: receive a dossier of the sample procedure, complete its user steps (the two
service steps run right after the command that opens them), again. The processes start together
(a barrier); every ``receive`` and ``complete`` is timed. Printed per process count: the commands
per second of all processes together, the latency percentiles, and the errors, lienthong's (by
class) and raw ones (anything else; there must be none).

``--service-ms N`` makes the stub agency of ONE process (the first) take N ms in each service
operation, as a slow agency system would (``inside``). The control, in the same sitting, is the
same process pausing just as long *outside* the engine (``outside``): its agency answers at once,
and after each dossier it sleeps N ms for every operation it ran. Both runs do the same work at
the same pace; they differ only in where the slow process waits. The bar is on the others' rate:

    ratio_others_N = others/s each (inside) / others/s each (outside) >= 0.9

("a service operation that takes 200 ms does not lower other officers' throughput by more than
10 %"). It holds if the operation runs holding no lock, as it does (``lienthong.engine.calls``):
it starts after the command that opened it has committed. The others' own latencies
(``others p99``, ``others max``) would show a lock held through the call: some of their commands
would wait all of it. ``ratio_others_slowed_N`` compares with a neighbour that works at full
speed instead (``plain``), which competes for the lock and the CPUs far more than one waiting on
its agency: above 1 says only that.

The machine is shared: ``--rounds R`` runs every configuration R times, interleaved, and prints
the median of each figure and of each round's ratios. The last line is a JSON object; its
``ratio_*`` fields are what ``bench/versus.py`` compares.
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
#: Where the slow process waits: nowhere, in its agency's operation, or after each dossier.
MODES = ("plain", "inside", "outside")


class SlowAgencies(common.Agencies):  # type: ignore[misc,name-defined]
    """The stub agencies, answering after ``delay`` seconds; ``calls`` counts the operations."""

    delay = 0.0
    calls = 0

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any]:
        SlowAgencies.calls += 1
        time.sleep(self.delay)
        answer: dict[str, Any] = super().perform_operation(operation)
        return answer


def worker(
    path: str,
    index: int,
    seconds: float,
    service_ms: int,
    mode: str,
    durability: str,
    barrier: Any,
    out: Any,
) -> None:
    slow = bool(service_ms) and mode != "plain" and index == 0
    pause = service_ms / 1000 if slow and mode == "outside" else 0.0
    if slow:
        SlowAgencies.delay = service_ms / 1000 if mode == "inside" else 0.0
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
        if pause:  # the control: as long as the agency would have taken, with no engine call open
            time.sleep(pause * SlowAgencies.calls)
            SlowAgencies.calls = 0
    ended = time.monotonic()
    engine.close()
    out.put(
        {
            "index": index,
            "slow": slow,
            "started": started,
            "ended": ended,
            "latencies": latencies,
            "errors": dict(errors),
            "raw": dict(raw),
        }
    )


def run(
    processes: int, seconds: float, service_ms: int, mode: str, durability: str
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contention.db"
        common.make_engine(path, durability).close()  # the schema and the procedure, once
        barrier = ctx.Barrier(processes)
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=worker,
                args=(str(path), i, seconds, service_ms, mode, durability, barrier, out),
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
    others = sorted(x for r in results if not r["slow"] for x in r["latencies"])
    errors: Counter[str] = Counter()
    raw: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
        raw.update(r["raw"])

    def rate(rs: list[dict[str, Any]]) -> float | None:
        if not rs:
            return None
        return statistics.mean(len(r["latencies"]) / (r["ended"] - r["started"]) for r in rs)

    def pct(q: float, xs: list[float]) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    return {
        "processes": processes,
        "mode": mode,
        "service_ms": service_ms if mode != "plain" else 0,
        "commands": len(every),
        "commands_per_s": round(len(every) / span, 1),
        "p50_ms": round(pct(0.50, every), 2),
        "p99_ms": round(pct(0.99, every), 2),
        "max_ms": round(every[-1] * 1000, 2),
        "others_p99_ms": round(pct(0.99, others), 2) if others else None,
        "others_max_ms": round(others[-1] * 1000, 2) if others else None,
        "slow_process_per_s": _round(rate([r for r in results if r["slow"]])),
        "other_process_per_s": _round(rate([r for r in results if not r["slow"]])),
        "lienthong_errors": dict(errors),
        "raw_errors": sum(raw.values()),
        "raw_error_kinds": dict(raw),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _median(xs: list[Any]) -> Any:
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def _cell(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="how long each run lasts")
    ap.add_argument("--processes", default="1,2,4", help="process counts, comma-separated")
    ap.add_argument("--service-ms", type=int, default=0, help="one process's agency delay")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each configuration, interleaved")
    ap.add_argument("--durability", choices=["normal", "full"], default="normal")
    args = ap.parse_args()
    counts = [int(x) for x in args.processes.split(",")]

    def modes(n: int) -> list[str]:
        if not args.service_ms:
            return ["plain"]
        return ["plain", "inside", *(["outside"] if n > 1 else [])]

    configs = [(n, m) for n in counts for m in modes(n)]
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for n, m in configs:
            runs.append(run(n, args.seconds, args.service_ms, m, args.durability))
    print(
        f"the sample procedure on one file, {args.seconds:g} s a run, SQLite WAL, "
        f"synchronous={args.durability.upper()}; commands = receive + complete"
        + (f"; medians of {args.rounds} interleaved rounds" if args.rounds > 1 else "")
    )
    print(
        f"{'processes':>9} {'slow one':>11} {'commands/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'others/s each':>13} {'others p99':>10} {'others max':>10} "
        f"{'slow one/s':>10} {'errors':>6} {'raw':>4}"
    )
    medians: dict[tuple[int, str], dict[str, Any]] = {}
    for n, m in configs:
        rs = [r for r in runs if (r["processes"], r["mode"]) == (n, m)]
        med = {
            k: _median([r[k] for r in rs])
            for k in (
                "commands_per_s",
                "p50_ms",
                "p99_ms",
                "max_ms",
                "others_p99_ms",
                "others_max_ms",
                "slow_process_per_s",
                "other_process_per_s",
            )
        }
        medians[(n, m)] = med
        errors: Counter[str] = Counter()
        raw: Counter[str] = Counter()
        for r in rs:
            errors.update(r["lienthong_errors"])
            raw.update(r["raw_error_kinds"])
        where = "-" if m == "plain" else f"{m} {args.service_ms}"
        print(
            f"{n:>9} {where:>11} {med['commands_per_s']:>10.0f} "
            f"{med['p50_ms']:>7.1f} {med['p99_ms']:>7.1f} {med['max_ms']:>7.0f} "
            f"{_cell(med['other_process_per_s'], '.0f'):>13} "
            f"{_cell(med['others_p99_ms'], '.1f'):>10} "
            f"{_cell(med['others_max_ms'], '.0f'):>10} "
            f"{_cell(med['slow_process_per_s'], '.0f'):>10} "
            f"{sum(errors.values()):>6} {sum(raw.values()):>4}"
        )
        for kind, k in raw.items():
            print(f"    raw x{k}: {kind}")
        for kind, k in errors.items():
            print(f"    {kind} x{k}")
    summary: dict[str, Any] = {
        "seconds": args.seconds,
        "durability": args.durability,
        "service_ms": args.service_ms,
        "rounds": args.rounds,
        "runs": runs,
        "raw_errors": sum(r["raw_errors"] for r in runs),
    }

    def per_round(n: int, mode: str, key: str) -> list[Any]:
        return [r[key] for r in runs if (r["processes"], r["mode"]) == (n, mode)]

    if 1 in counts:
        for n in counts:
            if n != 1:
                pairs = zip(
                    per_round(n, "plain", "commands_per_s"),
                    per_round(1, "plain", "commands_per_s"),
                    strict=True,
                )
                summary[f"ratio_{n}_to_1"] = _median([a / b for a, b in pairs])
    for n in counts:
        if not args.service_ms or n == 1:
            continue
        inside = per_round(n, "inside", "other_process_per_s")
        outside = per_round(n, "outside", "other_process_per_s")
        plain = per_round(n, "plain", "other_process_per_s")
        bar = [a / b for a, b in zip(inside, outside, strict=True)]
        slowed = [a / b for a, b in zip(inside, plain, strict=True)]
        summary[f"ratio_others_{n}"] = _median(bar)
        summary[f"ratio_others_slowed_{n}"] = _median(slowed)
        print(
            f"  {n} processes: the others run at {_median(bar):.3f} x their rate beside the same "
            f"pause taken outside the engine (rounds: {', '.join(f'{x:.2f}' for x in bar)}); "
            f"bar >= 0.9: {'met' if _median(bar) >= 0.9 else 'NOT MET'}"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
