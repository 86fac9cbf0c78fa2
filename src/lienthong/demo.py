"""The main job, simulated: a province's dossiers worked by its officers over several weeks.

``lienthong demo`` receives a stream of dossiers of the sample procedures on an embedded SQLite
file, lets simulated officers work them with a fixed clock (no sleeping), runs the SLA ticks, and
prints what a provincial dashboard shows. Everything is seeded: the same arguments print the same
report.
"""

from __future__ import annotations

import atexit
import random
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from lienthong.bpmn.procedures import load_procedure
from lienthong.engine import Engine
from lienthong.errors import LienthongError, SlaError
from lienthong.legaltime.clock import VN_TZ, FixedClock
from lienthong.org import Organisation
from lienthong.plugins.hookspecs import hookimpl
from lienthong.reports.text import dashboard, events_line
from lienthong.status import Channel, Status

DATA = Path(__file__).parent / "data"
DEMO_ORG = DATA / "demo-org.toml"
#: The sample procedures, shipped in the package (the checkout's ``processes/`` points here).
PROCESSES = DATA / "processes"


def processes_dir() -> Path:
    """The sample procedures' folder, inside the installed package."""
    if not any(PROCESSES.glob("*.bpmn")):
        raise LienthongError(f"{PROCESSES}: the sample procedures are missing from the package")
    return PROCESSES


# procedure code -> (share of the stream, channel weights direct/online/postal)
MIX = {
    "233448": (0.6, (0.3, 0.7, 0.0)),
    "1.013831": (0.25, (0.8, 0.15, 0.05)),
    "1.013932": (0.15, (0.9, 0.1, 0.0)),
}
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương")
MIDDLE = ("Văn", "Thị", "Minh", "Thu", "Đức", "Ngọc", "Hữu", "Thanh")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Nam", "Phúc", "Quân", "Yến")


@attrs.define
class DemoResult:
    """What the simulation produced, for the report and for tests."""

    db_path: str
    received: int
    engine: Engine
    sample: str | None
    start: datetime
    end: datetime


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _step_data(step_spec: Any, rng: random.Random, code: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in step_spec.required_fields:
        data[f] = f"{f.split('_')[0].upper()}-{code[-11:]}-{rng.randint(100, 999)}"
    return data


def run_demo(
    db_path: str | Path = "lienthong.db",
    *,
    dossiers: int = 150,
    weeks: int = 5,
    seed: int = 7,
    start: datetime | None = None,
    slow_share: float = 0.12,
    out: Callable[[str], None] = print,
    fresh: bool = True,
    plugins: tuple[object, ...] = (),
    entry_points: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Simulate ``weeks`` weeks of a province's one-stop desks and print the dashboard.

    The sample procedures' service operations (calls to the police, social insurance and tax
    systems) are performed by the example agency plugins when they are installed; those no
    loaded plugin performs are stubbed with a canned result, and one line says which.

    :param slow_share: the fraction of steps whose officer takes longer than the step's share.
    :param fresh: delete an existing file at ``db_path`` first, so every run starts clean.
    :param progress: called with (simulated half-hours done, all of them) as the run goes.

    A run that fails (or is interrupted) deletes the database it created: a half-simulated
    province is not left behind to be mistaken for a whole one.
    """
    if weeks < 1 or dossiers < 1:
        raise LienthongError(
            f"demo: weeks ({weeks}) and dossiers ({dossiers}) must each be at least 1"
        )
    path = Path(db_path)
    if fresh:
        _remove(path)
    created = not path.exists()
    engine: Engine | None = None
    try:
        clock = FixedClock(start or datetime(2026, 2, 2, 8, 0, tzinfo=VN_TZ))  # across Tết 2026
        engine = Engine(
            str(path),
            org=Organisation.from_file(DEMO_ORG),
            clock=clock,
            plugins=plugins,
            entry_points=entry_points,
        )
        stubbed = stub_missing_operations(engine, processes_dir())
        if stubbed:
            out(
                f"Stubbed (their plugins are not installed): {', '.join(stubbed)}; "
                "install plugins/* for the example agencies' own results."
            )
        return _simulate(
            engine, clock, dossiers, weeks, seed, slow_share, out, progress
        )
    except BaseException:
        if engine is not None:
            engine.close()
        if created:
            _remove(path)
            # And again as the interpreter ends, after any thread still finishing a call
            # (an agency's operation) has let go of the file.
            atexit.register(_remove, path)
        raise


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


class DemoStubs:
    """Performs the operations of the sample procedures that no installed plugin performs,
    with a canned result (``{"demo_stub": operation}``), so that the demo runs from a bare
    install. Registered by :func:`stub_missing_operations`, for the demo's engine only."""

    __name__ = "lienthong.demo-stubs"

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)

    @hookimpl
    def operations(self) -> list[str]:
        return list(self.names)

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any] | None:
        return {"demo_stub": operation} if operation in self.names else None


def stub_missing_operations(engine: Engine, folder: Path) -> list[str]:
    """Register :class:`DemoStubs` on ``engine`` for the operations the BPMN files of
    ``folder`` name that none of its plugins performs; return their names (sorted)."""
    named = {
        op for f in sorted(folder.glob("*.bpmn")) for op in load_procedure(f).operations.values()
    }
    known = {op for batch in engine.hooks.call("operations") for op in (batch or ())}
    missing = sorted(named - known)
    if missing:
        engine.pm.register(DemoStubs(missing), name=DemoStubs.__name__)
    return missing


def _simulate(
    engine: Engine,
    clock: FixedClock,
    dossiers: int,
    weeks: int,
    seed: int,
    slow_share: float,
    out: Callable[[str], None],
    progress: Callable[[int, int], None] | None,
) -> DemoResult:
    rng = random.Random(seed)
    _AGAIN.seed(seed)
    _REFUSE.seed(seed)
    start = clock.now()
    end = start + timedelta(weeks=weeks)
    procs = {p.code: p for p in engine.load_procedures(processes_dir())}
    mix = {c: m for c, m in MIX.items() if c in procs}
    desk = engine.org.units_with_role("one-stop-desk")[0]
    desk_officers = [o.id for o in engine.org.members(desk.code)]

    # Arrivals only in working hours of working days, spread over all but the last week so most
    # dossiers can finish inside the simulated period (over the whole of a one-week run).
    arrivals: list[datetime] = []
    horizon = end - timedelta(weeks=1) if weeks > 1 else end
    while len(arrivals) < dossiers:
        t = start + timedelta(minutes=rng.randrange(int((horizon - start).total_seconds() // 60)))
        if engine.calendar.is_working_time(t):
            arrivals.append(t.replace(second=0, microsecond=0))
    arrivals.sort()

    finish_at: dict[int, datetime] = {}
    waits: dict[str, tuple[str, datetime]] = {}
    tick = timedelta(minutes=30)
    steps = int((end - start) / tick) + 1
    now = start
    ai = 0
    received = 0
    while now <= end:
        if progress is not None:
            progress(int((now - start) / tick), steps)
        clock.set(now)
        while ai < len(arrivals) and arrivals[ai] <= now:
            clock.set(arrivals[ai])
            code = rng.choices(list(mix), weights=[m[0] for m in mix.values()])[0]
            channel = rng.choices(
                [Channel.DIRECT, Channel.ONLINE, Channel.POSTAL], weights=mix[code][1]
            )[0]
            proc = procs[code]
            born = (arrivals[ai] - timedelta(days=rng.randint(3, 50))).date().isoformat()
            family = _name(rng)
            engine.receive(
                code,
                applicant={"name": family, "phone": f"09{rng.randint(10**7, 10**8 - 1)}",
                           "address": "thôn Đông, xã Tân Mẫu, Tỉnh Mẫu"},
                receiving_unit=desk.code,
                documents=list(proc.required_documents),
                channel=channel,
                officer=rng.choice(desk_officers) if channel != Channel.ONLINE else None,
                # The child of the liên thông birth group: the card and residence plugins
                # need their name and birth date.
                data={"child": {"name": family.split()[0] + " " + _name(rng).split(" ", 1)[1],
                                "birth_date": born}} if code == "233448" else None,
            )
            received += 1
            ai += 1
        clock.set(now)
        if engine.calendar.is_working_time(now):
            _work(engine, rng, now, finish_at, slow_share, waits)
        report_ = engine.tick(now)
        for _at, kind, code, _step in report_.actions:
            if kind == "apology_required":
                _apologise(engine, code, rng, finish_at)
        now += tick

    if progress is not None:
        progress(steps, steps)
    sample = _pick_sample(engine)
    report(engine, out=out, sample=sample, start=start, end=end)
    return DemoResult(engine.store.where, received, engine, sample, start, end)


def _work(
    engine: Engine,
    rng: random.Random,
    now: datetime,
    finish_at: dict[int, datetime],
    slow_share: float,
    waits: dict[str, tuple[str, datetime]],
) -> None:
    """Each open user step gets a planned finish when first seen; complete those now due.

    Some dossiers wait on the applicant: a supplement (Mẫu 02) asked at the first processing
    step, and, for land transfers, the payment of the tax the tax office notified (a pause).
    """
    for code, (kind, until) in list(waits.items()):
        if until <= now:
            if kind == "supplement":
                engine.receive_supplement(code)
            else:
                engine.end_obligation(code)
            del waits[code]
    rows = list(
        engine.db.query(
            "SELECT id, dossier, unit, assignee, escalated_to, share_minutes, opened_at, spec_id, "
            "step_kind FROM steps WHERE closed_at IS NULL AND kind = 'user' ORDER BY id"
        )
    )
    for r in rows:
        if r["id"] not in finish_at:
            share = r["share_minutes"] or 120
            if rng.random() < slow_share:
                work = int(share * rng.uniform(1.1, 2.2))
            else:
                work = int(share * rng.uniform(0.1, 0.9))
            opened = datetime.fromisoformat(r["opened_at"])
            finish_at[r["id"]] = engine.calendar.add_minutes(opened, max(work, 15))
        if finish_at[r["id"]] > now:
            continue
        # The unit's own officers do the work; an escalation only puts it on the heads' lists.
        officer = r["assignee"] or rng.choice([o.id for o in engine.org.members(r["unit"])])
        d = engine.dossier(r["dossier"])
        if d.code in waits:
            continue
        proc = engine.procedure(d.procedure_version)
        first_ask = (r["step_kind"] == "processing" and d.supplements == 0
                     and rng.random() < 0.08 and _first_processing(engine, d.code, r["id"]))
        # Now and then a second unit finds a paper missing too: the dossier is sent back twice
        # (the "returned" report); drawn from a generator of its own.
        again = (r["step_kind"] == "processing" and d.supplements == 1
                 and _first_of_unit(engine, d.code, r["id"], r["unit"])
                 and _AGAIN.random() < 0.3)
        if first_ask or again:
            try:
                engine.request_supplement(d.code, officer=officer, missing=["giay_to_bo_sung"],
                                          reason="Thành phần hồ sơ chưa đầy đủ, cần bổ sung")
            except SlaError:
                pass  # past the 3-working-day window: the officer goes on with what there is
            else:
                waits[d.code] = ("supplement", engine.calendar.add(now, days=rng.randint(1, 4)))
                finish_at.pop(r["id"], None)
                continue
        data = _step_data(proc.steps[r["spec_id"]], rng, d.code)
        online_reception = r["step_kind"] == "reception" and d.channel == Channel.ONLINE
        if online_reception and _REFUSE.random() < 0.05:
            data = {"accepted": False, "reason": "Hồ sơ không thuộc thẩm quyền giải quyết"}
        engine.claim(d.code, r["id"], officer) if not r["assignee"] else None
        d = engine.complete(d.code, r["id"], officer, data)
        if r["spec_id"] == "financial_obligation" and not d.is_closed:
            # The tax office's step is closed: the desk hands the notice over and pauses.
            engine.start_obligation(d.code, officer=engine.org.members(d.receiving_unit)[0].id,
                                    note="Thông báo nộp thuế thu nhập cá nhân, lệ phí trước bạ")
            waits[d.code] = ("obligation", engine.calendar.add(now, days=rng.uniform(0.5, 5)))


_AGAIN = random.Random()
# A stream of its own, so that a change elsewhere in the simulation does not take the demo's
# few refusals (Mẫu 03) away with it.
_REFUSE = random.Random()


def _first_of_unit(engine: Engine, code: str, step_id: int, unit: str) -> bool:
    """The step is the unit's first in the dossier (when it received it)."""
    first = engine.db.execute(
        "SELECT min(id) FROM steps WHERE dossier = ? AND unit = ?", [code, unit]
    ).fetchone()[0]
    return bool(first == step_id)


def _first_processing(engine: Engine, code: str, step_id: int) -> bool:
    """The step is the dossier's first processing step (where a missing paper is noticed)."""
    first = engine.db.execute(
        "SELECT min(id) FROM steps WHERE dossier = ? AND step_kind = 'processing'", [code]
    ).fetchone()[0]
    return bool(first == step_id)


def _apologise(
    engine: Engine, code: str, rng: random.Random, finish_at: dict[int, datetime]
) -> None:
    """When its officers' work will run past the appointment, the head of the unit at fault
    (``Engine.units_at_fault``: the unit whose own step is late, else the one holding the work)
    signs the apology (Mẫu 04) with an appointment 2 working days later."""
    d = engine.dossier(code)
    open_steps = [s for s in engine.steps(code) if s.is_open and s.step_kind != "return"]
    if d.is_closed or not open_steps or d.appointment is None or d.apology_issued_at:
        return
    if all(finish_at.get(s.id, s.opened_at) <= d.appointment for s in open_steps):
        return
    head = engine.org.unit(engine.units_at_fault(code)[0].unit).head
    if head is None:
        return
    engine.apologise(
        code,
        officer=head,
        reason=rng.choice(REASONS),
        new_appointment=engine.calendar.add(d.appointment, days=2),
    )


REASONS = (
    "Cần xác minh thêm thông tin với cơ quan phối hợp",
    "Hệ thống liên thông gián đoạn, chưa nhận được kết quả",
    "Khối lượng hồ sơ tăng đột biến sau kỳ nghỉ Tết",
)


def _pick_sample(engine: Engine) -> str | None:
    """A finished khai sinh dossier with the most handoffs, for the control sheet."""
    row = engine.db.execute(
        "SELECT d.code FROM dossiers d JOIN audit a ON a.dossier = d.code "
        "WHERE d.status = ? AND d.procedure_code = '233448' GROUP BY d.code "
        "ORDER BY count(*) DESC, d.code LIMIT 1",
        [int(Status.RETURNED)],
    ).fetchone()
    if row is None:
        row = engine.db.execute("SELECT code FROM dossiers ORDER BY code LIMIT 1").fetchone()
    return row[0] if row else None


def report(
    engine: Engine,
    *,
    out: Callable[[str], None] = print,
    sample: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> None:
    """Print the dashboard through :mod:`lienthong.reports`: steps by unit and by officer,
    dossiers by procedure, the late dossiers and their apologies, the dossiers sent back twice,
    the audit events, one control sheet."""
    if start and end:
        out(f"lienthong demo — {start:%d/%m/%Y} to {end:%d/%m/%Y} (simulated, fixed clock)")
        out("")
    for line in dashboard(engine.db, engine.org, now=end):
        out(line)
    events = Counter(r[0] for r in engine.db.execute("SELECT event FROM audit"))
    out(events_line(sorted(events.items())))
    for line in _plugin_lines(engine):
        out(line)
    v = engine.verify_audit()
    out(f"Audit chain: {'intact' if v.ok else 'BROKEN at row ' + str(v.broken_id)} ({v.rows} rows)")
    if sample:
        out("")
        out(engine.control_sheet(sample).render())


def _plugin_lines(engine: Engine) -> list[str]:
    """What the example plugins did, when they are installed."""
    lines: list[str] = []
    db = engine.db
    cards = [
        r
        for r in db.query(
            "SELECT data FROM steps WHERE spec_id = 'issue_card' AND status = 'done' ORDER BY id"
        )
    ]
    if cards:
        import json

        first = json.loads(cards[0]["data"] or "{}")
        if "demo_stub" in first:
            return lines
        card = first.get("health_insurance_card") or next(iter(first.values()), "")
        lines.append(f"Health-insurance cards issued (thẻ BHYT): {len(cards)}, e.g. {card}")
    if db["outbox"].exists():
        n = db["outbox"].count
        sample = db.execute("SELECT subject FROM outbox ORDER BY rowid LIMIT 1").fetchone()
        lines.append(
            f"Messages in the outbox (hộp thư đi): {n}"
            + (f", e.g. “{sample[0]}”" if sample else "")
        )
    return lines
