"""The accountability reports over a synthetic province-year: their cost must follow the rows in
the period, not the whole table.

    .venv/bin/python bench/reports.py [--dossiers N] [--db PATH] [--rebuild] [--repeat K]

The store is built once, with plain SQL (no workflow is created or loaded), and cached in
``bench/.cache/`` (or ``--db``): N dossiers (default 1,000,000) received over the working days of
2025 at 100 communes' one-stop desks, about 8 steps each, of the three sample procedures (their
real BPMN versions are stored, so the ``units`` report reads real lanes), with the facts of
migration 005 filled in: about 15 % of steps finish late, 2 % of those arrived late, some went
overdue and were restarted; each late step has 1-3 ``escalated`` audit rows, 8 % of dossiers one
``supplement_requested`` row and 1 % two; 6 % of dossiers are late, with their units at fault,
most with an apology. The audit table holds only those rows: the reports read no other event, and
the partial indexes they use leave the others out.

Then the ``period``, ``officers`` and ``units`` reports (lienthong.reports, with the
organisation's names) are timed for the whole year and for one month (June), ``--repeat`` times
each (the best and the first run are printed), with their baseline in the same run: one plain
scan of the table the report counts (``steps`` or ``dossiers``), what any report without an
index would pay at the least. The bar: each report under 5 s, and month/year time about
month/year rows.

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import re
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/calendar.py would shadow the standard library's calendar module: drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]

import sqlite_utils  # noqa: E402

from lienthong import reports  # noqa: E402
from lienthong.bpmn.procedures import load_procedure  # noqa: E402
from lienthong.legaltime.calendar import WorkingCalendar  # noqa: E402
from lienthong.legaltime.clock import VN_TZ  # noqa: E402
from lienthong.org import Officer, Organisation, Unit  # noqa: E402
from lienthong.store import Store, schema  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
PROCESSES = ROOT / "processes"
YEAR = 2025
COMMUNES = 100
PROVINCE = "000.00.00.H29"
#: procedure file -> (share of dossiers, deadline in working days, step plan). A plan is
#: (spec id, lane role, kind, step kind, share in working minutes); the unit of a role is the
#: commune's own (desk, civil status, police, social insurance) or one of ten provincial
#: branches (land office, tax office), or the archive centre.
PLANS: dict[str, tuple[float, int, list[tuple[str, str, str, str, int]]]] = {
    "khai-sinh-thuong-tru-bhyt.bpmn": (
        0.6,
        3,
        [
            ("reception", "one-stop-desk", "user", "reception", 60),
            ("register_birth", "commune-civil-status", "user", "processing", 480),
            ("sign_birth", "commune-civil-status", "user", "processing", 120),
            ("register_residence", "police-residence", "user", "processing", 480),
            ("review_card", "social-insurance", "user", "processing", 480),
            ("record_residence", "police-residence", "service", "processing", 30),
            ("issue_card", "social-insurance", "service", "processing", 30),
            ("return_result", "one-stop-desk", "user", "return", 120),
        ],
    ),
    "dang-ky-bien-dong-chuyen-nhuong.bpmn": (
        0.25,
        8,
        [
            ("reception", "one-stop-desk", "user", "reception", 120),
            ("check_dossier", "land-registration-office", "user", "processing", 960),
            ("send_tax_info", "land-registration-office", "user", "processing", 240),
            ("financial_obligation", "tax-office", "user", "processing", 1440),
            ("update_records", "land-registration-office", "user", "processing", 480),
            ("print_certificate", "land-registration-office", "user", "processing", 480),
            ("sign_certificate", "land-registration-office", "user", "processing", 240),
            ("hand_to_desk", "land-registration-office", "user", "processing", 60),
            ("return_result", "one-stop-desk", "user", "return", 120),
        ],
    ),
    "phuc-vu-doc-tai-lieu-luu-tru.bpmn": (
        0.15,
        1,
        [
            ("reception", "one-stop-desk", "user", "reception", 30),
            ("find_records", "archive-centre", "user", "processing", 180),
            ("approve", "archive-centre", "user", "processing", 60),
            ("copy", "archive-centre", "user", "processing", 90),
            ("certify", "archive-centre", "user", "processing", 60),
            ("return_result", "one-stop-desk", "user", "return", 60),
        ],
    ),
}
ROLE_SUFFIX = {
    "one-stop-desk": "01",
    "commune-civil-status": "41",
    "police-residence": "60",
    "social-insurance": "70",
}
OFFICERS_PER_UNIT = 5


def organisation() -> Organisation:
    """The synthetic province: communes with a desk, civil status, police and social insurance
    unit each, ten land and ten tax branches, one archive centre; five officers a unit."""
    units = [Unit(PROVINCE, "Ủy ban nhân dân tỉnh", head=f"{PROVINCE}.o1")]
    for c in range(1, COMMUNES + 1):
        for role, suffix in ROLE_SUFFIX.items():
            units.append(
                Unit(
                    f"000.{c:02d}.{suffix}.H29" if c < 100 else f"000.{c}.{suffix}.H29",
                    f"{role} xã {c}",
                    parent=PROVINCE,
                    roles=(role,),
                )
            )
    for b in range(1, 11):
        units.append(
            Unit(
                f"000.{b:02d}.10.H30",
                f"Chi nhánh Văn phòng đăng ký đất đai {b}",
                parent=PROVINCE,
                roles=("land-registration-office",),
            )
        )
        units.append(
            Unit(f"000.{b:02d}.80.H30", f"Thuế cơ sở {b}", parent=PROVINCE, roles=("tax-office",))
        )
    units.append(
        Unit(
            "000.00.05.H30",
            "Trung tâm Lưu trữ lịch sử tỉnh",
            parent=PROVINCE,
            roles=("archive-centre",),
        )
    )
    officers = [
        Officer(f"{u.code}.o{i}", f"Cán bộ {i} {u.name}", u.code)
        for u in units
        for i in range(1, OFFICERS_PER_UNIT + 1)
    ]
    units = [Unit(u.code, u.name, u.parent, u.roles, head=f"{u.code}.o1") for u in units]
    return Organisation.build(units, officers)


def unit_for(role: str, commune: int) -> str:
    if role in ROLE_SUFFIX:
        c = f"{commune:02d}" if commune < 100 else str(commune)
        return f"000.{c}.{ROLE_SUFFIX[role]}.H29"
    if role == "land-registration-office":
        return f"000.{commune % 10 + 1:02d}.10.H30"
    if role == "tax-office":
        return f"000.{commune % 10 + 1:02d}.80.H30"
    return "000.00.05.H30"


class Instants:
    """Working-minute coordinates of 2025 and a little of 2026 -> stored ISO text (08:00-12:00,
    13:00-17:00 on the calendar's working days), precomputed: millions of rows need them."""

    def __init__(self) -> None:
        cal = WorkingCalendar.default()
        days = [date(YEAR, 1, 1) + timedelta(days=i) for i in range(500)]
        self.days = [d for d in days if cal.is_working_day(d)]
        self.text: list[str] = []
        for d in self.days:
            base = datetime(d.year, d.month, d.day, tzinfo=VN_TZ)
            for m in range(480):
                t = base + timedelta(hours=8, minutes=m + (60 if m >= 240 else 0))
                self.text.append(t.isoformat())
        self.year_days = sum(1 for d in self.days if d.year == YEAR)

    def __call__(self, w: int) -> str:
        return self.text[min(w, len(self.text) - 1)]


def build(path: Path, n: int, seed: int = 2025) -> dict[str, int]:
    """Create the store at ``path`` with ``n`` dossiers; return the row counts."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    Store(path, checkpoints="inline").close()  # the schema, every migration applied
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    # Indexes are dropped for the bulk insert and made again at the end (a sort each), as any
    # bulk load does; their definitions are the migrations' own.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('steps', 'dossiers', 'audit')"
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    procs = {}
    for file, (_share, days, _plan) in PLANS.items():
        p = load_procedure(PROCESSES / file)
        procs[file] = p
        conn.execute(
            "INSERT INTO procedures (version, code, name, process_id, deadline, source, bpmn, "
            "loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, '2025-01-01T00:00:00+07:00')",
            [p.version, p.code, p.name, p.process_id, f"{days}d", file, p.bpmn],
        )
    at = Instants()
    rng = random.Random(seed)
    files = list(PLANS)
    weights = [PLANS[f][0] for f in files]
    span = at.year_days * 480
    counts = {"dossiers": 0, "steps": 0, "audit": 0, "faults": 0}
    d_rows: list[tuple[Any, ...]] = []
    s_rows: list[tuple[Any, ...]] = []
    a_rows: list[tuple[Any, ...]] = []
    f_rows: list[tuple[Any, ...]] = []
    step_id = 0
    audit_id = 0
    starts = sorted(rng.randrange(span) for _ in range(n))
    per_day: dict[tuple[str, int], int] = {}

    def flush() -> None:
        conn.executemany(D_SQL, d_rows)
        conn.executemany(S_SQL, s_rows)
        conn.executemany(A_SQL, a_rows)
        conn.executemany("INSERT INTO dossier_faults VALUES (?, ?, ?)", f_rows)
        for rows in (d_rows, s_rows, a_rows, f_rows):
            rows.clear()

    conn.execute("BEGIN")
    for w0 in starts:
        file = rng.choices(files, weights)[0]
        _share, deadline_days, plan = PLANS[file]
        proc = procs[file]
        commune = rng.randrange(1, COMMUNES + 1)
        desk = unit_for("one-stop-desk", commune)
        day = w0 // 480
        key = (desk, day)
        per_day[key] = per_day.get(key, 0) + 1
        code = f"{desk}-{at.days[day]:%y%m%d}-{per_day[key]:04d}"
        r = rng.random()
        channel = 1 if r < 0.45 else (2 if r < 0.95 else 3)
        appointment = w0 + deadline_days * 480
        fate = rng.random()
        if fate < 0.01:  # refused at reception
            d_rows.append(
                (
                    code,
                    proc.code,
                    proc.version,
                    desk,
                    channel,
                    3,
                    at(w0),
                    None,
                    None,
                    None,
                    None,
                    at(w0 + 30),
                    None,
                    None,
                    None,
                    0,
                    None,
                    None,
                    None,
                    None,
                    None,
                    0,
                )
            )
            counts["dossiers"] += 1
            continue
        w = w0
        late_units: dict[str, int] = {}
        supplements = 0
        asked_by: list[tuple[int, str]] = []
        for spec, role, kind, step_kind, share in plan:
            unit = unit_for(role, commune)
            opened = w
            due = opened + share
            slow = rng.random() < 0.10
            dur = int(share * (rng.uniform(1.1, 2.2) if slow else rng.uniform(0.1, 0.9))) + 1
            if kind == "service":
                dur = rng.randrange(1, 5)
            closed = opened + dur
            arrived_late = 1 if slow and rng.random() < 0.02 else 0
            late = max(0, closed - due)
            first_overdue = at(due) if late or rng.random() < 0.005 else None
            cls = "late" if late else ("on_time" if closed // 480 == due // 480 else "early")
            officer = f"{unit}.o{rng.randrange(1, OFFICERS_PER_UNIT + 1)}"
            step_id += 1
            open_now = closed >= span and fate > 0.02
            s_rows.append(
                (
                    step_id,
                    code,
                    f"t{step_id}",
                    spec,
                    spec.replace("_", " "),
                    kind,
                    step_kind,
                    role,
                    unit,
                    None if kind == "service" else officer,
                    "open" if open_now else "done",
                    at(opened),
                    None if open_now else at(closed),
                    None if open_now else ("system" if kind == "service" else officer),
                    share,
                    at(due),
                    None if open_now else cls,
                    first_overdue,
                    None if open_now else late,
                    arrived_late,
                )
            )
            if late and not arrived_late:
                late_units[unit] = late_units.get(unit, 0) + late
                for level in range(1, min(3, 1 + late // 480) + 1):
                    to_unit = unit if level == 1 else PROVINCE
                    audit_id += 1
                    a_rows.append(
                        (
                            audit_id,
                            code,
                            "escalated",
                            at(due + (level - 1) * 480),
                            unit,
                            to_unit,
                            f"{to_unit}.o1",
                            step_id,
                        )
                    )
            if step_kind == "processing" and not supplements and rng.random() < 0.03:
                asked_by.append((opened + 30, unit))
                supplements = 1
            elif step_kind == "processing" and supplements == 1 and rng.random() < 0.05:
                asked_by.append((opened + 30, unit))
                supplements = 2
            w = closed
            if open_now:
                break
        for when, unit in asked_by:
            audit_id += 1
            a_rows.append(
                (audit_id, code, "supplement_requested", at(when), unit, None, f"{unit}.o2", None)
            )
        resolved = w
        open_dossier = resolved >= span and fate > 0.02
        late = max(0, resolved - appointment)
        cls = "late" if late else ("on_time" if resolved // 480 == appointment // 480 else "early")
        kpi = "late" if late or supplements > 1 else cls
        apology = late and rng.random() < 0.7
        required = appointment - 480
        issued = required - rng.randrange(0, 240) if apology else None
        if apology and rng.random() < 0.1:
            issued = required + rng.randrange(60, 960)
        status, closed_at = (10, at(resolved + 60))
        if fate < 0.015:
            status, closed_at = 7, at(w0 + 200)
        elif fate < 0.02:
            status, closed_at = 8, at(w0 + 400)
        fault = max(late_units, key=late_units.__getitem__) if late_units else None
        if status == 10 and not open_dossier:
            row = (
                code,
                proc.code,
                proc.version,
                desk,
                channel,
                10,
                at(w0),
                at(w0),
                at(w0),
                at(appointment + (960 if apology else 0)),
                at(appointment),
                closed_at,
                at(resolved),
                cls,
                kpi,
                supplements,
                at(required),
                at(issued) if issued is not None else None,
                late,
            )
            if late:
                f_rows.extend((code, u, m) for u, m in late_units.items())
        else:
            row = (
                code,
                proc.code,
                proc.version,
                desk,
                channel,
                4 if open_dossier else status,
                at(w0),
                at(w0),
                at(w0),
                at(appointment),
                at(appointment),
                None if open_dossier else closed_at,
                None,
                None,
                None,
                supplements,
                at(required),
                None,
                None,
            )
        d_rows.append(row)
        if fault is not None and issued is not None and status == 10 and not open_dossier:
            d_rows[-1] = (*row, fault, f"{fault}.o1", int(issued > required))
        else:
            d_rows[-1] = (*row, None, None, 0)
        counts["dossiers"] += 1
        if len(s_rows) > 200_000:
            counts["steps"] += len(s_rows)
            counts["audit"] += len(a_rows)
            counts["faults"] += len(f_rows)
            flush()
    counts["steps"] += len(s_rows)
    counts["audit"] += len(a_rows)
    counts["faults"] += len(f_rows)
    flush()
    conn.execute("COMMIT")
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return counts


def reindex(path: Path) -> None:
    """Drop the indexes of migration 007 (and those an older version of it made) and make them
    as the migration makes them now."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -1000000")
    sql = inspect.getsource(schema._m007_report_indexes)
    names = set(re.findall(r"CREATE INDEX (\w+)", sql)) | {"steps_late_finished"}
    for name in names:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    schema._m007_report_indexes(sqlite_utils.Database(conn))
    conn.close()


D_SQL = (
    "INSERT INTO dossiers (code, procedure_code, procedure_version, receiving_unit, channel, "
    "status, arrived_at, received_at, clock_start, appointment, original_appointment, "
    "closed_at, resolved_at, result_class, kpi_class, supplements, apology_required_at, "
    "apology_issued_at, late_minutes, apology_unit, apology_by, apology_late, "
    "applicant, documents, routing) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', '[]', '{}')"
)
S_SQL = (
    "INSERT INTO steps (id, dossier, task_id, spec_id, name, kind, step_kind, role, unit, "
    "assignee, status, opened_at, closed_at, closed_by, share_minutes, due_at, result_class, "
    "first_overdue_at, late_minutes, arrived_late) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
A_SQL = (
    "INSERT INTO audit (id, dossier, event, at, from_unit, to_unit, to_officer, step_id, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '')"
)


def _timed(fn: Any, repeat: int) -> tuple[float, float, float, Any]:
    """(first run, best run, best CPU time of this process, the result): the machine is
    shared, so the CPU time is the steadier figure."""
    times, cpu = [], []
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return times[0], min(times), min(cpu), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dossiers", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--rebuild", action="store_true", help="build the store even if cached")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--reindex",
        action="store_true",
        help="make the report indexes (migration 007) of a cached store again",
    )
    args = ap.parse_args()
    path = args.db or CACHE / f"reports-{args.dossiers}.db"
    built = None
    if args.rebuild or not path.exists():
        t = time.perf_counter()
        counts = build(path, args.dossiers)
        built = time.perf_counter() - t
        print(f"built {path} in {built:.0f} s: {counts}")
    if args.reindex and built is None:
        t = time.perf_counter()
        reindex(path)
        print(f"report indexes made again in {time.perf_counter() - t:.0f} s")
    db = reports.open_db(path)
    org = organisation()
    conn = db.conn
    n_steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    n_dossiers = conn.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    print(
        f"{n_dossiers:,} dossiers, {n_steps:,} steps, "
        f"{conn.execute('SELECT count(*) FROM audit').fetchone()[0]:,} audit rows; "
        f"{path.stat().st_size / 2**30:.2f} GiB"
    )
    periods = {
        "year": reports.Period.days(f"{YEAR}-01-01", f"{YEAR}-12-31"),
        "June": reports.Period.days(f"{YEAR}-06-01", f"{YEAR}-06-30"),
        "Dec": reports.Period.days(f"{YEAR}-12-01", f"{YEAR}-12-31"),
    }
    scans = {
        "steps": lambda: conn.execute(
            "SELECT count(*), total(late_minutes) FROM steps NOT INDEXED"
        ).fetchone(),
        "dossiers": lambda: conn.execute(
            "SELECT count(*), total(late_minutes) FROM dossiers NOT INDEXED"
        ).fetchone(),
    }
    baseline = {k: _timed(f, args.repeat)[1:3] for k, f in scans.items()}
    rows = {
        name: {
            "steps": conn.execute(
                "SELECT count(*) FROM steps WHERE status = 'done' AND closed_at >= ? "
                "AND closed_at < ?",
                [p.low, p.high],
            ).fetchone()[0],
            "dossiers": conn.execute(
                "SELECT count(*) FROM dossiers WHERE received_at >= ? AND received_at < ?",
                [p.low, p.high],
            ).fetchone()[0],
        }
        for name, p in periods.items()
    }
    kinds = {
        "period": (lambda p: reports.period_report(db, org=org, period=p), "dossiers"),
        "officers": (lambda p: reports.officers(db, org=org, period=p), "steps"),
        "units": (lambda p: reports.units(db, org=org, period=p), "steps"),
    }
    result: dict[str, Any] = {
        "dossiers": n_dossiers,
        "steps": n_steps,
        "built_s": built,
        "baseline_s": baseline,
        "rows": rows,
    }
    print(
        f"baseline, a plain scan: of steps {baseline['steps'][0]:.2f} s "
        f"(CPU {baseline['steps'][1]:.2f} s), of dossiers {baseline['dossiers'][0]:.2f} s "
        f"(CPU {baseline['dossiers'][1]:.2f} s)"
    )
    print(
        f"{'report':<9} {'period':<6} {'rows':>10} {'first s':>8} {'best s':>8} "
        f"{'CPU s':>7} {'CPU/scan':>9} {'CPU m/y':>8} {'rows m/y':>9} {'out':>6}"
    )
    for kind, (fn, table) in kinds.items():
        got = {}
        for name, p in periods.items():
            first, best, cpu, out = _timed(lambda p=p, fn=fn: fn(p), args.repeat)
            got[name] = (first, best, cpu, len(out) if isinstance(out, list) else 1)
        for name in periods:
            first, best, cpu, n_out = got[name]
            ratio = cpu / got["year"][2]
            r = rows[name][table] / rows["year"][table]
            print(
                f"{kind:<9} {name:<6} {rows[name][table]:>10,} {first:8.3f} {best:8.3f} "
                f"{cpu:7.3f} {cpu / baseline[table][1]:9.3f} {ratio:8.3f} {r:9.3f} "
                f"{n_out:6}"
            )
            result[f"{kind}_{name}_s"] = best
            result[f"{kind}_{name}_first_s"] = first
            result[f"{kind}_{name}_cpu_s"] = cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
