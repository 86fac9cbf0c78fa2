"""Commands per second when 1, 2 and 4 processes share one file, and how long a command waits.

    .venv/bin/python bench/contention.py [--seconds S] [--processes 1,2,4] [--service-ms N]
                                         [--rounds R] [--hold-lock] [--durability normal|full]

Each process opens its own Engine on the same file and runs the loop of ``bench/handoffs.py`` (c)
for ``--seconds``: receive a dossier of the sample procedure, complete its user steps (the two
service steps run right after the command that opens them), again. The processes start together
(a barrier); every ``receive`` and ``complete`` is timed. Printed per process count: the commands
per second of all processes together, the latency percentiles, and the errors, lienthong's (by
class) and raw ones (anything else; there must be none).

``--service-ms N`` makes the stub agency of ONE process (the first) take N ms in each service
operation, as a slow agency system would (``inside``). Its control is the same processes with the
slow one pausing just as long *outside* the engine (``outside``): its agency answers at once, and
after each dossier it sleeps N ms for every operation it ran. The two do the same work at the same
pace and differ only in where the slow process waits. They run side by side, at the same time,
each group of processes on a file of its own: they share the machine's load, whatever the other
users of a shared machine do meanwhile, and no lock. The bar is on the other processes' rate:

    ratio_others_N = others/s each (inside) / others/s each (outside) >= 0.9

("a service operation that takes 200 ms does not lower other officers' throughput by more than
10 %"). It holds if the operation runs holding no lock, as it does (``lienthong.engine.calls``):
it starts after the command that opened it has committed. The others' own latencies
(``others p99``, ``others max``) and the time they spend waiting for the write lock (``lock
wait``: the share of their time; ``max wait``: the longest wait, in ms) would show a lock held
through the call: some of their transactions would wait all of it. ``ratio_others_slowed_N``
compares with a run of its own where no process is slow (``plain``), whose neighbour works at full
speed and competes for the lock and the CPUs far more than one waiting on its agency: above 1
says only that.

``--hold-lock`` shows what the bar guards against: the slow agency writes to its ``db`` before
it waits, which takes the write lock and holds it until the result is recorded (docs/plugins.md
says to write after the agency answered).

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
    """The stub agencies, answering after ``delay`` seconds; ``calls`` counts the operations.
    ``hold``: write to the operation's ``db`` before waiting, as docs/plugins.md says not to (its
    first write takes the write lock, held until the result is recorded)."""

    delay = 0.0
    calls = 0
    hold = False

    @hookimpl
    def perform_operation(self, operation: str, db: Any) -> dict[str, Any]:
        SlowAgencies.calls += 1
        if self.hold:
            db.execute("CREATE TABLE IF NOT EXISTS bench_agency (operation TEXT)")
            db.execute("INSERT INTO bench_agency (operation) VALUES (?)", [operation])
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
    hold: bool = False,
) -> None:
    slow = bool(service_ms) and mode != "plain" and index == 0
    pause = service_ms / 1000 if slow and mode == "outside" else 0.0
    if slow:
        SlowAgencies.delay = service_ms / 1000 if mode == "inside" else 0.0
        SlowAgencies.hold = hold and mode == "inside"
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
    # How long each transaction waited for the write lock: what another process holding it
    # costs this one, apart from the CPUs the machine's other users take.
    waits: list[float] = []
    begin = engine.store._begin

    def waited(conn: Any) -> None:
        start = time.perf_counter()
        try:
            begin(conn)
        finally:
            waits.append(time.perf_counter() - start)

    engine.store._begin = waited  # type: ignore[method-assign]
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
            "mode": mode,
            "slow": slow,
            "started": started,
            "ended": ended,
            "latencies": latencies,
            "waits": waits,
            "errors": dict(errors),
            "raw": dict(raw),
        }
    )


def run(
    processes: int,
    seconds: float,
    service_ms: int,
    modes: list[str],
    durability: str,
    hold: bool = False,
) -> list[dict[str, Any]]:
    """One run of ``processes`` processes for each of ``modes``, each group on a file of its own,
    all started by one barrier: groups run side by side share the machine's load, whatever it
    is, and not a lock. One summary per group."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        barrier = ctx.Barrier(processes * len(modes))
        out = ctx.Queue()
        procs = []
        for mode in modes:
            path = Path(tmp) / f"contention-{mode}.db"
            common.make_engine(path, durability).close()  # the schema and the procedure, once
            procs += [
                ctx.Process(
                    target=worker,
                    args=(str(path), i, seconds, service_ms, mode, durability, barrier, out, hold),
                )
                for i in range(processes)
            ]
        for p in procs:
            p.start()
        results = [out.get(timeout=BARRIER_SECONDS + seconds * 10) for _ in procs]
        for p in procs:
            p.join()
    return [
        _summary(processes, mode, service_ms, [r for r in results if r["mode"] == mode])
        for mode in modes
    ]


def _summary(
    processes: int, mode: str, service_ms: int, results: list[dict[str, Any]]
) -> dict[str, Any]:
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    every = sorted(x for r in results for x in r["latencies"])
    others = sorted(x for r in results if not r["slow"] for x in r["latencies"])
    other_runs = [r for r in results if not r["slow"]]
    waits = [x for r in other_runs for x in r["waits"]]
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
        # The share of the others' time spent waiting for the write lock, and the longest wait.
        "others_lock_wait_pct": round(
            100 * sum(waits) / sum(r["ended"] - r["started"] for r in other_runs), 2
        )
        if waits
        else None,
        "others_lock_wait_max_ms": round(max(waits) * 1000, 2) if waits else None,
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
    ap.add_argument(
        "--hold-lock",
        action="store_true",
        help="the slow agency writes to its db before it waits, holding the write lock through it "
        "(what docs/plugins.md warns against): shows what the bar guards against",
    )
    args = ap.parse_args()
    counts = [int(x) for x in args.processes.split(",")]

    def modes(n: int) -> list[str]:
        if not args.service_ms:
            return ["plain"]
        return ["plain", "inside", *(["outside"] if n > 1 else [])]

    configs = [(n, m) for n in counts for m in modes(n)]
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for n in counts:
            runs += run(n, args.seconds, args.service_ms, ["plain"], args.durability)
            if args.service_ms:  # the slow agency and its control side by side
                slow = ["inside", *(["outside"] if n > 1 else [])]
                runs += run(n, args.seconds, args.service_ms, slow, args.durability, args.hold_lock)
    print(
        f"the sample procedure on one file, {args.seconds:g} s a run, SQLite WAL, "
        f"synchronous={args.durability.upper()}; commands = receive + complete"
        + (f"; medians of {args.rounds} interleaved rounds" if args.rounds > 1 else "")
        + ("; the slow agency holds the write lock while it waits" if args.hold_lock else "")
    )
    print(
        f"{'processes':>9} {'slow one':>11} {'commands/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'others/s each':>13} {'others p99':>10} {'others max':>10} "
        f"{'lock wait':>9} {'max wait':>8} {'slow one/s':>10} {'errors':>6} {'raw':>4}"
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
                "others_lock_wait_pct",
                "others_lock_wait_max_ms",
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
            f"{_cell(med['others_lock_wait_pct'], '.1f') + ' %':>9} "
            f"{_cell(med['others_lock_wait_max_ms'], '.0f'):>8} "
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
        "hold_lock": args.hold_lock,
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
