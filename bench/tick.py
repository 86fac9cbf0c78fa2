"""The SLA tick on a large store: N open steps, K of them overdue; its cost must follow K, not N.

    .venv/bin/python bench/tick.py [--open N] [--overdue K] [--observed] [--packed]
                                   [--db PATH] [--durability normal|full]

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

The last line printed is a JSON object: ``open``, ``overdue``, ``seconds`` (the tick),
``setup_seconds``, ``actions``, ``per_action_us``, ``audit_rows`` and the options.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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


def build(engine: Engine, n_open: int, n_overdue: int, *, slack: bool = True) -> None:
    """Insert ``n_open`` dossiers with one open step and one audit row each; ``n_overdue`` of
    the steps are due. With ``slack``, each step row is inserted with a 48-byte filler that is
    then cleared, so that the table's pages keep the free space that claims and closings leave
    in a real store; without it every page is packed full and nearly every escalation (which
    makes its row longer) splits one."""
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
    received = cal.subtract(NOW, days=1)
    appointment = cal.add(NOW, days=8)
    apology_at = cal.subtract(appointment, days=1)
    fixed = {
        "received": _iso(received), "appointment": _iso(appointment),
        "apology_at": _iso(apology_at),
    }
    db = engine.db
    d_sql = (
        "INSERT INTO dossiers (code, procedure_code, procedure_version, receiving_unit, channel, "
        "status, applicant, documents, routing, arrived_at, received_at, clock_start, "
        "appointment, original_appointment, apology_at) "
        "VALUES (?, ?, ?, ?, 1, 4, ?, '[]', ?, ?, ?, ?, ?, ?, ?)"
    )
    s_sql = (
        "INSERT INTO steps (dossier, task_id, spec_id, name, kind, step_kind, role, unit, status, "
        "data, opened_at, share_minutes, due_at, warn_at, next_escalation_at) "
        "VALUES (?, ?, 'register_birth', 'Đăng ký khai sinh', 'user', 'processing', "
        "'commune-civil-status', ?, 'open', ?, ?, ?, ?, ?, ?)"
    )
    late_iso = [_iso(t) for t in late_due]
    later_iso = [(_iso(t), _iso(w)) for t, w in zip(later_due, later_warn, strict=True)]
    day0 = NOW.date()
    # Overdue steps are spread evenly among the others, as they would be in a real store.
    stride = n_open / n_overdue if n_overdue else 0.0
    overdue_at = {int(i * stride) for i in range(n_overdue)}
    applicant = json.dumps({"name": "Nguyễn Văn A"}, ensure_ascii=False)
    filler = "x" * 48 if slack else None

    def dossiers() -> Any:
        for i in range(n_open):
            day = day0 - timedelta(days=i // 9999)
            yield (f"{DESK}-{day:%y%m%d}-{i % 9999 + 1:04d}", proc.code, proc.version, DESK,
                   applicant, routing, fixed["received"], fixed["received"], fixed["received"],
                   fixed["appointment"], fixed["appointment"], fixed["apology_at"])

    def steps() -> Any:
        for i in range(n_open):
            day = day0 - timedelta(days=i // 9999)
            code = f"{DESK}-{day:%y%m%d}-{i % 9999 + 1:04d}"
            if i in overdue_at:
                due, warn = late_iso[i % len(late_iso)], None  # it warned already
            else:
                due, warn = later_iso[i % len(later_iso)]
            yield (code, f"task-{i}", COMMUNE, filler, fixed["received"], SHARE, due, warn, due)

    a_sql = (
        "INSERT INTO audit (dossier, event, at, from_officer, to_unit, note, format, "
        "state_digest, prev_hash, hash) "
        "VALUES (?, 'received', ?, 'Người nộp hồ sơ', ?, 'bench', 2, ?, ?, ?)"
    )
    def audit_rows() -> Any:
        # Placeholder hashes: the tick appends to the chain, it never verifies it. The state
        # digests are real, as an engine would have written them: the tick starts from them.
        d_rows = db.conn.execute(f"SELECT {digests.DOSSIER_SELECT} FROM dossiers ORDER BY code")
        s_rows = db.conn.cursor().execute(f"SELECT dossier, {', '.join(digests.STEP_COLUMNS)} "
                                          "FROM steps ORDER BY dossier")
        for i, (d, s) in enumerate(zip(d_rows, s_rows, strict=True)):
            assert d[0] == s[0]
            yield (d[0], fixed["received"], DESK, digests.encode(d, [s[1:]]),
                   f"{i - 1:064x}" if i else "0" * 64, f"{i:064x}")

    with engine.store.transaction():
        db.conn.executemany(d_sql, dossiers())
        db.conn.executemany(s_sql, steps())
        if slack:
            db.execute("UPDATE steps SET data = NULL")
        db.conn.executemany(a_sql, list(audit_rows()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--open", type=int, default=100_000, dest="n_open")
    ap.add_argument("--overdue", type=int, default=1_000)
    ap.add_argument("--db", type=Path, default=None, help="SQLite file (default: a temp file)")
    ap.add_argument("--durability", choices=["normal", "full"], default="normal")
    ap.add_argument("--observed", action="store_true",
                    help="register a plugin that implements step_escalated (it does nothing)")
    ap.add_argument("--packed", action="store_true",
                    help="pack the steps table's pages full (no free space left by updates)")
    args = ap.parse_args()
    if not 0 <= args.overdue <= args.n_open:
        ap.error("--overdue must be between 0 and --open")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "tick.db"
        if path.exists():
            path.unlink()
        clock = FixedClock(NOW)
        engine = Engine(path, org=Organisation.from_file(DEMO_ORG), clock=clock,
                        plugins=[Agencies(), *([Observer()] if args.observed else [])],
                        entry_points=False, durability=args.durability)
        start = time.perf_counter()
        build(engine, args.n_open, args.overdue, slack=not args.packed)
        setup = time.perf_counter() - start
        audit_before = engine.db.execute("SELECT count(*) FROM audit").fetchone()[0]
        start = time.perf_counter()
        report = engine.tick(NOW)
        elapsed = time.perf_counter() - start
        audit_rows = engine.db.execute("SELECT count(*) FROM audit").fetchone()[0] - audit_before
        again = engine.tick(NOW)
        engine.close()
    actions = len(report.actions)
    kinds = {k: report.count(k) for k in sorted({a[1] for a in report.actions})}
    print(f"{args.n_open} open steps, {args.overdue} overdue; SQLite WAL, "
          f"synchronous={args.durability.upper()}"
          + ("; pages packed full" if args.packed else "")
          + ("; a plugin observes escalations" if args.observed else ""))
    print(f"  setup (plain SQL, one transaction)  {setup:8.2f} s")
    print(f"  one tick                            {elapsed:8.3f} s  "
          f"({actions} actions {kinds}, {audit_rows} audit rows)")
    if actions:
        print(f"  per action                          {elapsed / actions * 1e6:8.0f} us")
    print(f"  second tick at the same instant     {len(again.actions)} actions")
    if actions != args.overdue or again.actions:
        print("  UNEXPECTED: the tick should escalate exactly the overdue steps, once",
              file=sys.stderr)
    print(json.dumps({
        "open": args.n_open, "overdue": args.overdue, "seconds": round(elapsed, 4),
        "setup_seconds": round(setup, 2), "actions": actions,
        "per_action_us": round(elapsed / actions * 1e6, 1) if actions else None,
        "audit_rows": audit_rows, "durability": args.durability, "packed": args.packed,
        "observed": args.observed,
    }))


if __name__ == "__main__":
    main()
