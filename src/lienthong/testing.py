"""Test helpers for users' own SLA tests: hypothesis strategies and a fixed clock.

Needs the ``test`` extra (``pip install lienthong[test]``) for the strategies: hypothesis is
imported when a strategy is first called, so importing this module (e.g. for :class:`FixedClock`)
works without it.

Strategies:

* :func:`instants` — aware datetimes in Asia/Ho_Chi_Minh, whole minutes, over a year range;
* :func:`working_durations` — durations in working minutes;
* :func:`overlays` — random calendar overlays (extra weekdays off, worked weekend days);
* :func:`calendars` — :class:`~lienthong.calendar.WorkingCalendar` objects with a random overlay;
* :func:`dossier_histories`, :func:`actions`, :func:`play`, :class:`Player` — random lives of one
  dossier played through the Engine (from :mod:`lienthong.testing_dossiers`).

Helpers for tests that run dossiers: :func:`make_test_engine` (an Engine with the demo organisation,
a fixed clock and only the plugins given), :func:`sample_process`, :class:`StubOperations` (a
plugin with canned service-task results) and :func:`run_dossier` (receive one and work it to the
end).

Example::

    from hypothesis import given
    from lienthong.testing import calendars, instants, working_durations

    @given(calendars(), instants(), working_durations(min_minutes=1))
    def test_due_is_after_receipt(cal, received, minutes):
        assert cal.add_minutes(received, minutes) > received
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong.calendar import Overlay, OverlayDay, WorkingCalendar
from lienthong.clock import VN_TZ, FixedClock
from lienthong.hookspecs import hookimpl
from lienthong.org import Officer, Organisation

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from lienthong.engine import Engine
    from lienthong.testing_dossiers import (
        Advance,
        Apologise,
        Complete,
        EndObligation,
        History,
        Player,
        ReceiveSupplement,
        RequestSupplement,
        StartObligation,
        Tick,
        actions,
        dossier_histories,
        play,
    )

__all__ = [
    "Advance",
    "Apologise",
    "Complete",
    "EndObligation",
    "FixedClock",
    "History",
    "Player",
    "ReceiveSupplement",
    "RequestSupplement",
    "StartObligation",
    "StubOperations",
    "Tick",
    "actions",
    "calendars",
    "demo_organisation",
    "dossier_histories",
    "instants",
    "make_test_engine",
    "overlays",
    "periods",
    "play",
    "reference_add_minutes",
    "run_dossier",
    "sample_process",
    "working_durations",
]

#: Dossier-history strategies and the player live in :mod:`lienthong.testing_dossiers`, which
#: imports hypothesis at once; they are re-exported here lazily, on first use.
_DOSSIER_NAMES = frozenset(
    {
        "Advance",
        "Apologise",
        "Complete",
        "EndObligation",
        "History",
        "Player",
        "ReceiveSupplement",
        "RequestSupplement",
        "StartObligation",
        "Tick",
        "actions",
        "dossier_histories",
        "play",
    }
)


def __getattr__(name: str) -> Any:
    if name in _DOSSIER_NAMES:
        from . import testing_dossiers

        return getattr(testing_dossiers, name)
    raise AttributeError(f"module 'lienthong.testing' has no attribute {name!r}")


#: Years the strategies draw from unless told otherwise: recent and near-future ones.
DEFAULT_YEARS = (2024, 2027)


def _st() -> Any:
    # Imported here so that `import lienthong.testing` does not need hypothesis.
    from hypothesis import strategies

    return strategies


def instants(*, years: tuple[int, int] = DEFAULT_YEARS) -> SearchStrategy[datetime]:
    """Aware datetimes in Asia/Ho_Chi_Minh, at whole minutes, from 1 January of ``years[0]`` to
    31 December of ``years[1]`` (any time of day, working or not)."""
    st = _st()
    first, last = years
    return st.datetimes(
        min_value=datetime(first, 1, 1),
        max_value=datetime(last, 12, 31, 23, 59),
        timezones=st.just(VN_TZ),
    ).map(lambda t: t.replace(second=0, microsecond=0))


def working_durations(*, min_minutes: int = 0, max_days: int = 250) -> SearchStrategy[int]:
    """Durations in working minutes, from ``min_minutes`` to ``max_days`` working days of 480."""
    return _st().integers(min_value=min_minutes, max_value=max_days * 480)


def periods() -> SearchStrategy[tuple[tuple[time, time], ...]]:
    """Valid working hours: one to three sorted, separated periods, whole minutes."""
    st = _st()

    def build(cuts: list[int]) -> tuple[tuple[time, time], ...]:
        # Cuts are distinct minutes of the day: pair them up as start, end, start, end, ...
        def t(m: int) -> time:
            return time(m // 60, m % 60)

        return tuple((t(cuts[i]), t(cuts[i + 1])) for i in range(0, len(cuts), 2))

    n = st.sampled_from([2, 4, 6])
    return n.flatmap(
        lambda k: st.lists(
            st.integers(min_value=0, max_value=23 * 60 + 59), min_size=k, max_size=k, unique=True
        ).map(sorted)
    ).map(build)


def overlays(
    *,
    years: tuple[int, int] = DEFAULT_YEARS,
    max_days: int = 8,
    with_hours: bool = False,
) -> SearchStrategy[Overlay]:
    """Random :class:`~lienthong.calendar.Overlay` objects over ``years``: up to ``max_days``
    extra weekdays off and up to ``max_days`` worked weekend days; with ``with_hours``, random
    working hours too (see :func:`periods`)."""
    st = _st()
    first, last = years
    days = st.dates(min_value=date(first, 1, 1), max_value=date(last, 12, 31))
    weekdays = st.lists(days.filter(lambda d: d.weekday() < 5), max_size=max_days, unique=True)
    weekends = st.lists(days.filter(lambda d: d.weekday() >= 5), max_size=max_days, unique=True)
    hours = periods() if with_hours else st.none()

    def build(
        off: list[date], worked: list[date], hours: tuple[tuple[time, time], ...] | None
    ) -> Overlay:
        return Overlay(
            days_off=[OverlayDay(d, "Ngày nghỉ (thử nghiệm)") for d in sorted(off)],
            working_days=[OverlayDay(d, "Ngày làm bù (thử nghiệm)") for d in sorted(worked)],
            periods=hours,
            origin="<hypothesis>",
        )

    return st.builds(build, weekdays, weekends, hours)


def calendars(
    *,
    years: tuple[int, int] = DEFAULT_YEARS,
    with_hours: bool = False,
) -> SearchStrategy[WorkingCalendar]:
    """Working calendars: the default one with a random overlay from :func:`overlays` on top."""
    return overlays(years=years, with_hours=with_hours).map(lambda ov: WorkingCalendar([ov]))


# -- helpers for tests that run dossiers (plugin authors' and lienthong's own) --------------------


class StubOperations:
    """A plugin that performs the named BPMN service operations with canned results, so that a
    procedure loads and runs without the agencies' real plugins.

    >>> stub = StubOperations({"police.record_residence": {"residence_recorded": True}})
    """

    def __init__(
        self, results: Mapping[str, Mapping[str, Any]], *, name: str = "stub-operations"
    ) -> None:
        self.results = {op: dict(r) for op, r in results.items()}
        self.__name__ = name
        self.calls: list[tuple[str, str]] = []  # (operation, dossier code), in order

    @hookimpl
    def operations(self) -> list[str]:
        """The operations this stub performs."""
        return list(self.results)

    @hookimpl
    def perform_operation(self, operation: str, dossier: Any) -> dict[str, Any] | None:
        """The canned result, or ``None`` for an operation this stub does not know."""
        if operation not in self.results:
            return None
        self.calls.append((operation, dossier.code))
        return dict(self.results[operation])


def run_dossier(
    engine: Engine,
    clock: FixedClock,
    procedure: str,
    *,
    applicant: Mapping[str, Any] | None = None,
    documents: Sequence[str] | None = None,
    channel: int = 1,
    data: Mapping[str, Any] | None = None,
    step_data: Mapping[str, Mapping[str, Any]] | None = None,
    until: str | None = None,
    minutes_per_step: float = 30,
    pick: Callable[[list[Officer]], Officer] = lambda members: members[0],
) -> str:
    """Receive a dossier at the clock's instant and complete its open user steps, one at a time,
    each ``minutes_per_step`` wall minutes after the last, by an officer of the step's unit
    (``pick`` chooses among them), until the dossier closes, only service steps are left, or the
    step whose BPMN id is ``until`` is open. Returns the dossier code.

    ``step_data`` maps a step's BPMN id to the data its officer gives, exactly; a step it does
    not name gets placeholder values for its required fields.
    """
    proc = engine.procedure(procedure)
    desk = next(
        (r for lane in proc.lanes.values() for r in [lane.role] if engine.org.units_with_role(r)),
        None,
    )
    receiving = engine.org.resolve_role(desk).code if desk else next(iter(engine.org.units))
    d = engine.receive(
        proc.code,
        applicant=applicant or {"name": "Nguyễn Văn An", "address": "Thôn 1, xã Tân Mẫu"},
        receiving_unit=receiving,
        documents=list(proc.required_documents if documents is None else documents),
        channel=channel,
        data=data,
    )
    given = dict(step_data or {})
    while not engine.dossier(d.code).is_closed:
        open_user = [s for s in engine.open_steps(dossier=d.code) if s.kind == "user"]
        if not open_user or open_user[0].spec_id == until:
            break
        step = open_user[0]
        clock.advance(minutes=minutes_per_step)
        if step.spec_id in given:
            values = dict(given[step.spec_id])
        else:
            values = {f: f"{f}-1" for f in proc.steps[step.spec_id].required_fields}
        engine.complete(d.code, step.id, pick(engine.org.members(step.unit)).id, values)
    return d.code


def sample_process(name: str, *, near: str | Path) -> Path:
    """The BPMN file ``processes/<name>`` of the lienthong checkout that holds ``near`` (a test
    file's ``__file__``): the sample procedures live beside the package, not inside it."""
    for folder in Path(near).resolve().parents:
        candidate = folder / "processes" / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"processes/{name} not found above {near}")


def make_test_engine(
    *plugins: object,
    clock: FixedClock,
    processes: Sequence[str | Path] = (),
    org: Organisation | str | Path | None = None,
    db: str | Path = ":memory:",
) -> Engine:
    """An Engine for a test: the demo organisation (unless ``org``), ``clock``, exactly the
    ``plugins`` given (entry points are not loaded, so the test does not depend on what else is
    installed), and the BPMN files or folders of ``processes`` loaded."""
    from lienthong.engine import Engine as _Engine

    engine = _Engine(
        db, org=org or demo_organisation(), clock=clock, plugins=list(plugins), entry_points=False
    )
    for p in processes:
        if Path(p).is_dir():
            engine.load_procedures(p)
        else:
            engine.load_procedure(p)
    return engine


def demo_organisation() -> Organisation:
    """The demo province's organisation (``lienthong/data/demo-org.toml``)."""
    return Organisation.from_file(Path(__file__).parent / "data" / "demo-org.toml")


def reference_add_minutes(cal: WorkingCalendar, start: datetime, n: int) -> datetime:
    """``cal.add_minutes(start, n)`` the slow, obvious way: walk day by day and period by period
    (no index). An oracle for property tests of calendars and overlays, and the naive baseline
    of ``bench/calendar.py``."""
    t = start.astimezone(VN_TZ).replace(second=0, microsecond=0)
    if n == 0:
        return cal.next_working_instant(t)
    d, clock = t.date(), t.hour * 60 + t.minute
    while True:
        if cal.is_working_day(d):
            for s, e in cal.periods:
                ps, pe = s.hour * 60 + s.minute, e.hour * 60 + e.minute
                begin = max(ps, clock)
                if begin >= pe:
                    continue
                if n <= pe - begin:
                    m = begin + n
                    return datetime.combine(d, time(m // 60, m % 60), tzinfo=VN_TZ)
                n -= pe - begin
        d, clock = d + timedelta(days=1), 0
