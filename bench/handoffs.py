"""Handoffs per second on the sample procedure: SpiffWorkflow alone, SpiffWorkflow with its default
serializer round trip after every step, and lienthong with every command committed.

    .venv/bin/python bench/handoffs.py [--dossiers N] [--durability normal|full]
                                       [--checkpoints background|inline]
                                       [--db postgresql://...] [--processes P]

A handoff is one step closed (user or service task). All three run the same BPMN file and the same
sequence of steps, in the same process, one after the other; the last line is a JSON object.

``--db postgresql://…`` runs lienthong's loop (c) on that PostgreSQL server as well, each round
in a fresh schema of its own (``<schema>_r<round>_<n>p``, dropped after the round; ``schema``
in the address names the prefix, ``bench`` without one), beside the same loop on a SQLite file.
``--processes P`` (P > 1) also runs P processes at once on each store, each with its own Engine
and its own dossiers (``--dossiers`` each), started together by a barrier: the figure is every
process's handoffs together over the time from the barrier to the last one's end, and the ratio
printed is P processes' rate ÷ one process's.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from lienthong import Engine, FixedClock, Organisation, hookimpl, load_procedure  # noqa: E402
from lienthong.bpmn.state import default_serializer  # noqa: E402
from lienthong.demo import DEMO_ORG  # noqa: E402
from lienthong.legaltime.clock import VN_TZ  # noqa: E402

BPMN = ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn"
DATA = {"birth_certificate_no": "KS-1", "residence_registration_no": "TT-1"}
DESK = "000.00.01.H29"
CODE = "233448"  # the procedure's mã TTHC


class Agencies:
    """The two service operations, answered at once (the plugins' cost is not measured here)."""

    @hookimpl
    def operations(self) -> list[str]:
        return ["police.record_residence", "social_insurance.issue_card"]

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any]:
        return {"ok_" + operation.split(".")[0]: True}


def _spiff_step(wf: BpmnWorkflow) -> bool:
    """Close one ready manual task the way lienthong does; False when none is left."""
    ready = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual]
    if not ready:
        return False
    task = ready[0]
    task.data.update(DATA)
    if task.run() is None:
        task.complete()
    wf.do_engine_steps()
    return True


def spiff_memory(n: int) -> tuple[float, int, BpmnWorkflow]:
    proc = load_procedure(BPMN)
    handoffs = 0
    start = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(proc.spec, proc.subprocess_specs)
        wf.do_engine_steps()
        while _spiff_step(wf):
            handoffs += 1
    return time.perf_counter() - start, handoffs, wf


def spiff_roundtrip(n: int) -> tuple[float, int, int]:
    proc = load_procedure(BPMN)
    ser = default_serializer()
    handoffs = 0
    size = 0
    start = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(proc.spec, proc.subprocess_specs)
        wf.do_engine_steps()
        while True:
            text = ser.serialize_json(wf)
            wf = ser.deserialize_json(text)
            if not _spiff_step(wf):
                break
            handoffs += 1
        size = len(ser.serialize_json(wf).encode("utf-8"))
    return time.perf_counter() - start, handoffs, size


def make_engine(path: Path | str, durability: str, checkpoints: str = "background") -> Engine:
    """lienthong on a file (or a PostgreSQL address), with the stub agencies and the sample
    procedure loaded."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = Engine(
        path,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ)),
        plugins=[Agencies()],
        entry_points=False,
        durability=durability,
        checkpoints=checkpoints,
    )
    engine.load_procedure(BPMN)
    return engine


def officers(engine: Engine) -> dict[str, str]:
    """An officer of each unit, worked out before the clock starts."""
    return {u: engine.org.members(u)[0].id for u in engine.org.units}


def run_dossier(engine: Engine, members: dict[str, str]) -> str:
    """Receive one dossier and complete its user steps, each by ``members[unit]``, the first
    open one first; return its code."""
    proc = engine.procedure(CODE)
    code = engine.receive(
        proc.code,
        applicant={"name": "A"},
        receiving_unit=DESK,
        documents=list(proc.required_documents),
    ).code
    while True:
        open_steps = [s for s in engine.open_steps(dossier=code) if s.kind == "user"]
        if not open_steps:
            return code
        s = open_steps[0]
        engine.complete(code, s.id, members[s.unit], DATA)


def lienthong_durable(
    n: int, durability: str, folder: Path, checkpoints: str = "background", db: str | None = None
) -> tuple[float, int, int]:
    engine = make_engine(db or folder / f"bench-{durability}.db", durability, checkpoints)
    members = officers(engine)
    code = ""
    server = server_cpu(db)
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        code = run_dossier(engine, members)
    elapsed = time.perf_counter() - start
    LAST_CPU[:] = [time.process_time() - cpu, _since(server, server_cpu(db))]
    # counted after the clock stops: the count is the bench's, not the engine's work
    handoffs = _handoffs(engine)
    state = engine.db.execute("SELECT state FROM dossier_states WHERE code = ?", [code]).fetchone()[
        0
    ]
    engine.close()
    return elapsed, handoffs, len(state)


def _handoffs(engine: Engine) -> int:
    count: int = engine.db.execute("SELECT count(*) FROM steps WHERE status = 'done'").fetchone()[0]
    return count


#: Seconds a process waits at the starting barrier before the run is called off.
BARRIER_SECONDS = 120
#: CPU seconds of the last run of loop (c): the client's processes (all their threads), and the
#: PostgreSQL server's (``nan`` on SQLite, or when the server is not on this machine).
LAST_CPU = [0.0, 0.0]
_POSTMASTERS: dict[str, int | None] = {}


def server_cpu(db: str | None) -> float | None:
    """CPU seconds the PostgreSQL server at ``db`` has used so far, its exited backends included
    (the postmaster's reaped children), if it runs on this machine; else ``None``."""
    if db is None:
        return None
    if db not in _POSTMASTERS:
        import psycopg

        parts = urlsplit(db)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
        with psycopg.connect(urlunsplit(parts._replace(query=urlencode(query)))) as c:
            row = c.execute("SELECT pg_backend_pid()").fetchone()
        try:
            _POSTMASTERS[db] = int(_stat(row[0])[1])
        except OSError:
            _POSTMASTERS[db] = None
    postmaster = _POSTMASTERS[db]
    if postmaster is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    own = _stat(postmaster)
    total = sum(int(x) for x in own[11:15])  # utime, stime, cutime, cstime
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = _stat(int(entry.name))
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
    return total / tick


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command's name: [state, ppid, ...] (fields 3 on)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()


def _since(before: float | None, after: float | None) -> float:
    return float("nan") if before is None or after is None else after - before


def _process(db: str, n: int, durability: str, barrier: Any, out: Any) -> None:
    """One of ``--processes``: its own Engine on the shared store, ``n`` dossiers of its own
    after the barrier; puts (start, end) on ``out``, on the machine's monotonic clock."""
    engine = make_engine(Path(db) if "://" not in db else db, durability)
    members = officers(engine)
    barrier.wait(BARRIER_SECONDS)
    cpu = time.process_time()
    started = time.monotonic()
    for _ in range(n):
        run_dossier(engine, members)
    ended = time.monotonic()
    cpu = time.process_time() - cpu
    engine.close()
    out.put((started, ended, cpu))


def lienthong_processes(
    n: int, processes: int, durability: str, db: Path | str
) -> tuple[float, int]:
    """``processes`` processes (spawned) on one store, ``n`` dossiers each, started together:
    (seconds from the barrier to the last one's end, handoffs stored)."""
    make_engine(db, durability).close()  # the schema and the procedure, once, before the clock
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)  # and this one, to read the server's CPU from there
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process, args=(str(db), n, durability, barrier, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(BARRIER_SECONDS)
        server = server_cpu(db if isinstance(db, str) else None)
        spans = [out.get(timeout=BARRIER_SECONDS + 600) for _ in procs]
        LAST_CPU[:] = [
            sum(c for *_, c in spans),
            _since(server, server_cpu(db if isinstance(db, str) else None)),
        ]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise SystemExit(f"a benchmark process failed (exit codes {bad})")
    elapsed = max(e for _, e, _ in spans) - min(s for s, _, _ in spans)
    engine = make_engine(db, durability)
    handoffs = _handoffs(engine)
    engine.close()
    return elapsed, handoffs


def _schema_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("schema", name)])))


def _schema_prefix(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query)).get("schema", "bench")


def _drop_schema(url: str, name: str) -> None:
    """The round's schema, dropped before (a previous run's) and after it."""
    import psycopg

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    with psycopg.connect(urlunsplit(parts._replace(query=urlencode(query))), autocommit=True) as c:
        c.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(name))
        )


def _pg(url: str, r: int, processes: int, run: Any) -> tuple[Any, ...]:
    """``run(address)`` on a fresh schema for round ``r``, dropped afterwards."""
    name = f"{_schema_prefix(url)}_r{r}_{processes}p"
    _drop_schema(url, name)
    try:
        result: tuple[Any, ...] = run(_schema_url(url, name))
        return result
    finally:
        _drop_schema(url, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=200, help="dossiers per round (and process)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--durability", choices=["normal", "full"], default="normal")
    ap.add_argument(
        "--checkpoints",
        choices=["background", "inline"],
        default="background",
        help="who copies the WAL into the database file (lienthong.checkpoint)",
    )
    ap.add_argument("--db", default=None, help="a PostgreSQL address: run loop (c) there too")
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="P > 1: also P processes at once on each store, a barrier to start",
    )
    args = ap.parse_args()
    if args.db is not None and not args.db.startswith(("postgresql://", "postgres://")):
        ap.error("--db takes a PostgreSQL address (postgresql://...); SQLite always runs")
    if args.processes < 1:
        ap.error("--processes must be at least 1")
    n, many = args.dossiers, args.processes
    spiff_memory(20)  # warm up imports and caches
    # The machines are shared and noisy: the three run in interleaved rounds, and each keeps its
    # best round, so that a burst of load elsewhere cannot favour one of them.
    mem = rt = lt = 0.0
    best: dict[str, float] = {}
    rounds: dict[str, list[float]] = {}

    cpu: dict[str, list[tuple[float, float]]] = {}

    def keep(key: str, elapsed: float, handoffs: int) -> None:
        rounds.setdefault(key, []).append(handoffs / elapsed)
        best[key] = max(best.get(key, 0.0), handoffs / elapsed)
        cpu.setdefault(key, []).append((LAST_CPU[0] / handoffs, LAST_CPU[1] / handoffs))

    load = [os.getloadavg()[0]]

    default_bytes = state_bytes = per = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            t, h, _wf = spiff_memory(n)
            mem, per = max(mem, h / t), h // n
            t, h, default_bytes = spiff_roundtrip(n)
            rt = max(rt, h / t)
            t, h, state_bytes = lienthong_durable(
                n, args.durability, Path(tmp) / str(r), args.checkpoints
            )
            lt = max(lt, h / t)
            keep("sqlite_1", t, h)
            if many > 1:
                keep(
                    "sqlite_n",
                    *lienthong_processes(
                        n, many, args.durability, Path(tmp) / str(r) / "processes.db"
                    ),
                )
            if args.db:
                t, h, _ = _pg(
                    args.db,
                    r,
                    1,
                    lambda url: lienthong_durable(
                        n, args.durability, Path(tmp), args.checkpoints, db=url
                    ),
                )
                keep("pg_1", t, h)
                if many > 1:
                    keep(
                        "pg_n",
                        *_pg(
                            args.db,
                            r,
                            many,
                            lambda url: lienthong_processes(n, many, args.durability, url),
                        ),
                    )
    load.append(os.getloadavg()[0])
    print(
        f"{n} khai sinh dossiers a round, best of {args.rounds} interleaved rounds, {per} "
        f"handoffs each; SQLite WAL, synchronous={args.durability.upper()}, "
        f"{args.checkpoints} checkpoints"
    )
    print(f"  SpiffWorkflow in memory          {mem:10.0f} handoffs/s")
    print(f"  SpiffWorkflow + default JSON     {rt:10.0f} handoffs/s")
    print(
        f"  lienthong, committed per command {lt:10.0f} handoffs/s  "
        f"= {lt / mem:.2f} x memory, {lt / rt:.2f} x round trip"
    )
    print(
        f"  state of one finished dossier: lienthong {state_bytes} B, SpiffWorkflow default "
        f"JSON {default_bytes} B ({state_bytes / default_bytes:.2f})"
    )
    summary: dict[str, Any] = {
        "dossiers": n,
        "rounds": args.rounds,
        "durability": args.durability,
        "checkpoints": args.checkpoints,
        "spiff_memory_hps": round(mem, 1),
        "spiff_roundtrip_hps": round(rt, 1),
        "lienthong_durable_hps": round(lt, 1),
        "lienthong_state_bytes": state_bytes,
        "spiff_default_bytes": default_bytes,
        "ratio_memory": round(lt / mem, 3),
        "ratio_roundtrip": round(lt / rt, 3),
        "ratio_bytes": round(state_bytes / default_bytes, 3),
    }
    if args.db:
        commit = "off" if args.durability == "normal" else "on"
        print(
            f"  PostgreSQL, one process          {best['pg_1']:10.0f} handoffs/s  "
            f"= {best['pg_1'] / mem:.2f} x memory, {best['pg_1'] / lt:.2f} x SQLite "
            f"(synchronous_commit={commit})"
        )
        summary["pg_hps"] = round(best["pg_1"], 1)
        summary["ratio_pg_memory"] = round(best["pg_1"] / mem, 3)
        summary["ratio_pg_sqlite"] = round(best["pg_1"] / lt, 3)
    if many > 1:
        for store, name in (("sqlite", "SQLite"), *((("pg", "PostgreSQL"),) if args.db else ())):
            each = [a / b for a, b in zip(rounds[f"{store}_n"], rounds[f"{store}_1"], strict=True)]
            ratio = best[f"{store}_n"] / best[f"{store}_1"]
            print(
                f"  {name}, {many} processes {'':{14 - len(name)}}{best[f'{store}_n']:10.0f} "
                f"handoffs/s  = {ratio:.2f} x one process (rounds: "
                f"{', '.join(f'{x:.2f}' for x in each)})"
            )
            summary[f"{store}_{many}p_hps"] = round(best[f"{store}_n"], 1)
            summary[f"ratio_{store}_{many}p"] = round(ratio, 3)
    # What bounds the rate: the CPU each handoff takes, client and server, against the cores.
    cores = os.cpu_count() or 1
    for key in sorted(cpu):
        client = statistics.median(c for c, _ in cpu[key]) * 1000
        server = statistics.median(s for _, s in cpu[key]) * 1000
        if math.isnan(server):
            server = 0.0
        summary[f"cpu_ms_{key}"] = [round(client, 2), round(server, 2)]
        label = key.replace("_n", f" {many}p").replace("_1", " 1p")
        print(
            f"  CPU a handoff, {label:>9}: client {client:5.2f} ms + server {server:5.2f} ms; "
            f"{cores} cores give at most {cores / (client + server) * 1000:6.0f} handoffs/s"
        )
    print(f"  load average (1 min) at the start and the end: {load[0]:.2f}, {load[1]:.2f}")
    summary["load_average"] = [round(x, 2) for x in load]
    if args.db and many > 1:
        ok = summary[f"ratio_pg_{many}p"] >= 2
        print(
            f"  bar: {many} processes on PostgreSQL >= 2 x one process: "
            f"{'met' if ok else 'NOT MET'}"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
