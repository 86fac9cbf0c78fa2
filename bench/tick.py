"""The SLA tick on a large store: N open steps, K of them overdue; its cost must follow K, not N.

    .venv/bin/python bench/tick.py [--open N] [--overdue K] [--observed] [--packed]
                                   [--db PATH|postgresql://...] [--workers W]
                                   [--durability normal|full]

The store is built fast, with plain SQL in one transaction (no workflow is created or loaded): N
dossiers of the sample khai sinh procedure, each with one open step at the commune's civil-status
unit (000.01.41.H29, three escalation levels: its head, the commune, the province) and one audit
row (with the state digest of the dossier's rows, as an engine would have written it). K steps
fell due during the last working day and have not been escalated yet; the other
N - K fall due later and warn later, and every dossier's apology reminder is in the future, so
that exactly K actions are due at the tick instant. The overdue steps are spread evenly among the
others, as in a real store where they were opened over days. Then ONE ``engine.tick(now)`` is
timed: it must escalate the K steps (level 1: an ``overdue`` and an ``escalated`` audit row each)
and touch nothing else; a second tick at the same instant must find nothing.

``--observed`` registers a plugin that implements ``step_escalated`` and does nothing, as a
notification plugin would. ``--packed`` leaves the steps table's pages full (see :func:`build`).

``--db postgresql://…`` builds the same rows on that PostgreSQL server (:func:`build_pg`: COPY,
then VACUUM ANALYZE), in a database of the bench's own, ``lienthong_tick_fill`` (``schema`` in
the address is kept); every database the bench makes is dropped at the end.

``--workers W`` times several tick processes instead of one tick in this process: the filled
store is copied twice (a SQLite file with the backup API; a PostgreSQL database with the filled
one as its template), then 1 process, and W processes at once (spawned, each with its own Engine,
started together by a barrier), each call ``engine.tick(now)`` on a copy of their own. The time is
from the barrier to the last one's end; the W workers' reports together must hold each action of
the 1-worker run exactly once (none twice, none missing, none extra), and a tick after them must
find nothing. On PostgreSQL the workers share the due work (the dossiers of a batch are locked
with ``FOR UPDATE SKIP LOCKED``, ``lienthong.store.due.lock_dossiers``); on SQLite one holds the
write lock and the others find nothing left when they get it.

The last line printed is a JSON object: ``open``, ``overdue``, ``seconds`` (the tick),
``setup_seconds``, ``actions``, ``per_action_us``, ``audit_rows`` and the options; with
``--workers``, ``seconds_1w``, ``seconds_<W>w``, each worker's seconds and actions, ``twice``,
``missing``, ``extra`` and ``exactly_once``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]

from lienthong import Engine, FixedClock, Organisation, hookimpl  # noqa: E402
from lienthong.demo import DEMO_ORG  # noqa: E402
from lienthong.legaltime.clock import VN_TZ  # noqa: E402
from lienthong.store import digests  # noqa: E402

BPMN = ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn"
DESK = "000.00.01.H29"
COMMUNE = "000.01.41.H29"
#: The tick instant: a Thursday afternoon with no holiday near.
NOW = datetime(2025, 3, 13, 15, 0, tzinfo=VN_TZ)
SHARE = 480


class Agencies:
    """The sample procedure's two service operations (never run here: no service step is open)."""

    @hookimpl
    def operations(self) -> list[str]:
        return ["police.record_residence", "social_insurance.issue_card"]

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any]:
        return {"ok": operation}


class Observer:
    """A plugin that sees every escalation and does nothing, as a notification plugin would
    (``--observed``): the tick must then build records and call hooks for each action."""

    @hookimpl
    def step_escalated(self, level: int) -> None:
        del level


def _iso(t: datetime) -> str:
    return t.astimezone(VN_TZ).isoformat()


def _rows(engine: Engine, n_open: int, n_overdue: int, filler: str | None) -> Any:
    """The dossiers' and the steps' rows (column names, then an iterator of tuples each)."""
    proc = engine.load_procedure(BPMN)
    cal = engine.calendar
    routing = json.dumps({lane.role: engine.org.resolve_role(lane.role, near=DESK).code
                          for lane in proc.lanes.values()}, sort_keys=True)
    # A few distinct instants, reused: the overdue ones fell due in the last working day (their
    # next level is after NOW), the others fall due 2 to 6 working days from NOW and warn 1 day
    # before that, still after NOW.
    late_due = [cal.subtract(NOW, minutes=m) for m in range(1, 480, 7)]
    later_due = [cal.add_minutes(NOW, 960 + m) for m in range(0, 4 * 480, 13)]
    later_warn = [cal.subtract(t, days=1) for t in later_due]
    received = _iso(cal.subtract(NOW, days=1))
    appointment_at = cal.add(NOW, days=8)
    appointment, apology_at = _iso(appointment_at), _iso(cal.subtract(appointment_at, days=1))
    late_iso = [_iso(t) for t in late_due]
    later_iso = [(_iso(t), _iso(w)) for t, w in zip(later_due, later_warn, strict=True)]
    day0 = NOW.date()
    # Overdue steps are spread evenly among the others, as they would be in a real store.
    stride = n_open / n_overdue if n_overdue else 0.0
    overdue_at = {int(i * stride) for i in range(n_overdue)}
    applicant = json.dumps({"name": "Nguyễn Văn A"}, ensure_ascii=False)

    def code(i: int) -> str:
        return f"{DESK}-{day0 - timedelta(days=i // 9999):%y%m%d}-{i % 9999 + 1:04d}"

    def dossiers() -> Any:
        for i in range(n_open):
            yield (code(i), proc.code, proc.version, DESK, 1, 4, applicant, "[]", routing,
                   received, received, received, appointment, appointment, apology_at)

    def steps() -> Any:
        for i in range(n_open):
            if i in overdue_at:
                due, warn = late_iso[i % len(late_iso)], None  # it warned already
            else:
                due, warn = later_iso[i % len(later_iso)]
            yield (code(i), f"task-{i}", "register_birth", "Đăng ký khai sinh", "user",
                   "processing", "commune-civil-status", COMMUNE, "open", filler, received,
                   SHARE, due, warn, due)

    return (D_COLUMNS, dossiers()), (S_COLUMNS, steps()), received


D_COLUMNS = ("code", "procedure_code", "procedure_version", "receiving_unit", "channel", "status",
             "applicant", "documents", "routing", "arrived_at", "received_at", "clock_start",
             "appointment", "original_appointment", "apology_at")
S_COLUMNS = ("dossier", "task_id", "spec_id", "name", "kind", "step_kind", "role", "unit",
             "status", "data", "opened_at", "share_minutes", "due_at", "warn_at",
             "next_escalation_at")
A_COLUMNS = ("dossier", "event", "at", "from_officer", "to_unit", "note", "format",
             "state_digest", "prev_hash", "hash")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _audit_row(i: int, d: Any, s: Any, received: str) -> tuple[Any, ...]:
    # Placeholder hashes: the tick appends to the chain, it never verifies it. The state
    # digests are real, as an engine would have written them: the tick starts from them.
    assert d[0] == s[0]
    return (d[0], "received", received, "Người nộp hồ sơ", DESK, "bench", 2,
            digests.encode(d, [s[1:]]), f"{i - 1:064x}" if i else "0" * 64, f"{i:064x}")


def build(engine: Engine, n_open: int, n_overdue: int, *, slack: bool = True) -> None:
    """Insert ``n_open`` dossiers with one open step and one audit row each; ``n_overdue`` of
    the steps are due. With ``slack``, each step row is inserted with a 48-byte filler that is
    then cleared, so that the table's pages keep the free space that claims and closings leave
    in a real store; without it every page is packed full and nearly every escalation (which
    makes its row longer) splits one."""
    (d_cols, d_rows), (s_cols, s_rows), received = _rows(
        engine, n_open, n_overdue, "x" * 48 if slack else None)
    db = engine.db

    def audit_rows() -> Any:
        d_rows = db.conn.execute(f"SELECT {digests.DOSSIER_SELECT} FROM dossiers ORDER BY code")
        s_rows = db.conn.cursor().execute(f"SELECT dossier, {', '.join(digests.STEP_COLUMNS)} "
                                          "FROM steps ORDER BY dossier")
        for i, (d, s) in enumerate(zip(d_rows, s_rows, strict=True)):
            yield _audit_row(i, d, s, received)

    with engine.store.transaction():
        db.conn.executemany(_insert("dossiers", d_cols), d_rows)
        db.conn.executemany(_insert("steps", s_cols), s_rows)
        if slack:
            db.execute("UPDATE steps SET data = NULL")
        db.conn.executemany(_insert("audit", A_COLUMNS), list(audit_rows()))


#: Rows read back at a time to compute the audit rows' state digests on PostgreSQL.
PAGE = 20_000


def build_pg(engine: Engine, n_open: int, n_overdue: int) -> None:
    """:func:`build`'s rows on PostgreSQL, with COPY: the same dossiers and steps, then the
    audit rows, their state digests made from the rows read back through the store (the
    engine's own reading of them), a page at a time; then VACUUM ANALYZE, as the server's
    autovacuum would have done on a store that grew over months. No slack: PostgreSQL writes a
    new row version on every update anyway (HOT within the page when there is room)."""
    (d_cols, d_rows), (s_cols, s_rows), received = _rows(engine, n_open, n_overdue, None)
    db = engine.db
    raw = db.conn.raw  # type: ignore[attr-defined]

    def copy(table: str, columns: tuple[str, ...], rows: Any) -> None:
        with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as c:
            for row in rows:
                c.write_row(row)

    d_page = f"SELECT {digests.DOSSIER_SELECT} FROM dossiers WHERE code > ? ORDER BY code LIMIT ?"
    s_page = (f"SELECT dossier, {', '.join(digests.STEP_COLUMNS)} FROM steps "
              "WHERE dossier > ? ORDER BY dossier LIMIT ?")

    with engine.store.transaction():
        copy("dossiers", d_cols, d_rows)
        copy("steps", s_cols, s_rows)
        # A page read, then its audit rows copied: a connection runs nothing else during a COPY.
        last, i = "", 0
        while True:
            ds = db.conn.execute(d_page, [last, PAGE]).fetchall()
            ss = db.conn.execute(s_page, [last, PAGE]).fetchall()  # one step a dossier
            if not ds:
                break
            rows = [_audit_row(i + k, d, s, received)
                    for k, (d, s) in enumerate(zip(ds, ss, strict=True))]
            copy("audit", A_COLUMNS, rows)
            i += len(rows)
            last = ds[-1][0]
    for table in ("dossiers", "steps", "audit"):
        raw.execute(f"VACUUM ANALYZE {table}")


def open_engine(where: Path | str, observed: bool, durability: str) -> Engine:
    return Engine(where, org=Organisation.from_file(DEMO_ORG), clock=FixedClock(NOW),
                  plugins=[Agencies(), *([Observer()] if observed else [])],
                  entry_points=False, durability=durability)


def _is_pg(where: Path | str) -> bool:
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


def _database(url: str, name: str) -> str:
    """The address ``url`` with its database replaced by ``name`` (``schema`` kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str) -> Any:
    """A connection to the server of ``url`` (its own database), out of any transaction."""
    import psycopg

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return psycopg.connect(urlunsplit(parts._replace(query=urlencode(query))), autocommit=True)


def _drop_databases(url: str, names: list[str]) -> None:
    with _admin(url) as c:
        for name in names:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def copy_store(source: Path | str, url: str | None, name: str, tmp: Path) -> Path | str:
    """A copy of the filled store, for a run of its own on the same rows: a SQLite file copied
    with the backup API, or a PostgreSQL database made from the filled one as its template."""
    if url is None:
        target = tmp / f"{name}.db"
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        src.close()
        dst.close()
        return target
    with _admin(url) as c:
        c.execute(f"CREATE DATABASE {name} TEMPLATE {FILL} STRATEGY FILE_COPY")
    return _database(url, name)


def _tick_worker(where: str, observed: bool, durability: str, barrier: Any, out: Any) -> None:
    """One tick worker: its own Engine on the store, one ``tick(NOW)`` after the barrier."""
    engine = open_engine(where if _is_pg(where) else Path(where), observed, durability)
    barrier.wait(BARRIER_SECONDS)
    started = time.monotonic()
    report = engine.tick(NOW)
    ended = time.monotonic()
    engine.close()
    out.put((started, ended, [(a[0].isoformat(), *a[1:]) for a in report.actions]))


def run_workers(
    where: Path | str, workers: int, observed: bool, durability: str
) -> tuple[float, list[float], list[list[tuple[Any, ...]]]]:
    """``workers`` processes (spawned) each calling ``engine.tick(NOW)`` at once on the store:
    (seconds from the barrier to the last one's end, each one's seconds, each one's actions)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [ctx.Process(target=_tick_worker, args=(str(where), observed, durability, barrier, out))
             for _ in range(workers)]
    for p in procs:
        p.start()
    try:
        got = [out.get(timeout=BARRIER_SECONDS + 1200) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"a tick worker failed (exit codes {[p.exitcode for p in procs]})")
    span = max(e for _, e, _ in got) - min(s for s, _, _ in got)
    return span, [e - s for s, e, _ in got], [a for _, _, a in got]


#: Seconds a worker waits at the starting barrier before the run is called off.
BARRIER_SECONDS = 120
#: The PostgreSQL databases the bench fills and copies (dropped at the end).
FILL = "lienthong_tick_fill"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--open", type=int, default=100_000, dest="n_open")
    ap.add_argument("--overdue", type=int, default=1_000)
    ap.add_argument("--db", default=None,
                    help="SQLite file (default: a temp file), or a PostgreSQL server's address")
    ap.add_argument("--workers", type=int, default=0,
                    help="N: time 1 then N tick processes at once, each on a copy of the store")
    ap.add_argument("--durability", choices=["normal", "full"], default="normal")
    ap.add_argument("--observed", action="store_true",
                    help="register a plugin that implements step_escalated (it does nothing)")
    ap.add_argument("--packed", action="store_true",
                    help="pack the steps table's pages full (no free space left by updates)")
    args = ap.parse_args()
    if not 0 <= args.overdue <= args.n_open:
        ap.error("--overdue must be between 0 and --open")
    if args.workers < 0:
        ap.error("--workers must be at least 1 (or 0: one tick in this process)")
    url = args.db if args.db and _is_pg(args.db) else None
    if url is not None and args.packed:
        ap.error("--packed is for SQLite files")
    names = [FILL, *(f"lienthong_tick_{n}w" for n in sorted({1, args.workers}) if args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        where: Path | str
        if url is not None:
            _drop_databases(url, names)
            with _admin(url) as c:
                c.execute(f"CREATE DATABASE {FILL}")
            where = _database(url, FILL)
        else:
            where = Path(args.db) if args.db else Path(tmp) / "tick.db"
            if where.exists():
                where.unlink()
        try:
            result = _run(args, where, url, Path(tmp))
        finally:
            if url is not None:
                _drop_databases(url, names)
    print(json.dumps(result))


def _run(args: Any, where: Path | str, url: str | None, tmp: Path) -> dict[str, Any]:
    engine = open_engine(where, args.observed, args.durability)
    start = time.perf_counter()
    if url is not None:
        build_pg(engine, args.n_open, args.overdue)
    else:
        build(engine, args.n_open, args.overdue, slack=not args.packed)
    setup = time.perf_counter() - start
    kind = ("PostgreSQL, synchronous_commit=" + ("off" if args.durability == "normal" else "on")
            if url else f"SQLite WAL, synchronous={args.durability.upper()}")
    head = (f"{args.n_open} open steps, {args.overdue} overdue; {kind}"
            + ("; pages packed full" if args.packed else "")
            + ("; a plugin observes escalations" if args.observed else ""))
    summary: dict[str, Any] = {
        "open": args.n_open, "overdue": args.overdue, "store": "postgresql" if url else "sqlite",
        "setup_seconds": round(setup, 2), "durability": args.durability, "packed": args.packed,
        "observed": args.observed,
    }
    if args.workers:
        engine.close()
        return _run_workers(args, where, url, tmp, head, setup, summary)
    audit_before = engine.db.execute("SELECT count(*) FROM audit").fetchone()[0]
    start = time.perf_counter()
    report = engine.tick(NOW)
    elapsed = time.perf_counter() - start
    audit_rows = engine.db.execute("SELECT count(*) FROM audit").fetchone()[0] - audit_before
    again = engine.tick(NOW)
    engine.close()
    actions = len(report.actions)
    kinds = {k: report.count(k) for k in sorted({a[1] for a in report.actions})}
    print(head)
    print(f"  setup ({'COPY' if url else 'plain SQL'}, one transaction)  {setup:8.2f} s")
    print(f"  one tick                            {elapsed:8.3f} s  "
          f"({actions} actions {kinds}, {audit_rows} audit rows)")
    if actions:
        print(f"  per action                          {elapsed / actions * 1e6:8.0f} us")
    print(f"  second tick at the same instant     {len(again.actions)} actions")
    if actions != args.overdue or again.actions:
        print("  UNEXPECTED: the tick should escalate exactly the overdue steps, once",
              file=sys.stderr)
    summary.update({
        "seconds": round(elapsed, 4), "actions": actions,
        "per_action_us": round(elapsed / actions * 1e6, 1) if actions else None,
        "audit_rows": audit_rows,
    })
    return summary


def _run_workers(args: Any, where: Path | str, url: str | None, tmp: Path, head: str,
                 setup: float, summary: dict[str, Any]) -> dict[str, Any]:
    """1 tick worker, then ``--workers`` at once, each run on its own copy of the filled store;
    the union of the workers' reports must hold each action of the 1-worker run exactly once."""
    print(head)
    print(f"  setup ({'COPY' if url else 'plain SQL'}, one transaction)  {setup:8.2f} s")
    runs: dict[int, tuple[float, list[float], list[list[tuple[Any, ...]]]]] = {}
    copies: dict[int, Path | str] = {}
    for n in sorted({1, args.workers}):
        start = time.perf_counter()
        copies[n] = copy_store(where, url, f"lienthong_tick_{n}w", tmp)
        copying = time.perf_counter() - start
        runs[n] = run_workers(copies[n], n, args.observed, args.durability)
        span, each, acts = runs[n]
        print(f"  {n} tick worker{'s' if n > 1 else ' '} at once           {span:8.3f} s  "
              f"(each: {', '.join(f'{t:.3f} s' for t in each)}; actions each: "
              f"{', '.join(str(len(a)) for a in acts)}; copy of the store {copying:.1f} s)")
        summary[f"seconds_{n}w"] = round(span, 4)
        summary[f"worker_seconds_{n}w"] = [round(t, 4) for t in each]
        summary[f"actions_each_{n}w"] = [len(a) for a in acts]
    one = Counter(a for acts in runs[1][2] for a in acts)
    many = Counter(a for acts in runs[args.workers][2] for a in acts)
    twice = sum(1 for c in many.values() if c > 1)
    missing = len(set(one) - set(many))
    extra = len(set(many) - set(one))
    engine = open_engine(copies[args.workers], args.observed, args.durability)
    again = engine.tick(NOW)
    audit_rows = engine.db.execute("SELECT count(*) FROM audit").fetchone()[0]
    engine.close()
    ok = (not twice and not missing and not extra and not again.actions
          and sum(one.values()) == args.overdue)
    print(f"  {args.workers} workers' reports together: {sum(many.values())} actions, {twice} "
          f"fired twice, {missing} missing and {extra} extra against 1 worker's "
          f"{sum(one.values())}; a tick after them: {len(again.actions)} actions; "
          f"{audit_rows} audit rows")
    print(f"  exactly once: {'yes' if ok else 'NO'}; {args.workers} workers "
          f"{runs[args.workers][0]:.3f} s = {runs[args.workers][0] / runs[1][0]:.2f} x 1 worker; "
          f"bar < 2 s: {'met' if runs[args.workers][0] < 2 else 'NOT MET'}")
    if not ok:
        print("  UNEXPECTED: every due action must fire exactly once", file=sys.stderr)
    summary.update({
        "workers": args.workers, "twice": twice, "missing": missing, "extra": extra,
        "again": len(again.actions), "audit_rows_total": audit_rows, "exactly_once": ok,
        "ratio_workers": round(runs[args.workers][0] / runs[1][0], 3),
    })
    return summary


if __name__ == "__main__":
    main()
