"""Helpers for tests that run dossiers: an engine with the demo organisation and a fixed clock,
canned service-task results, the sample procedures, one dossier worked to the end."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong.legaltime.clock import FixedClock
from lienthong.org import Officer, Organisation
from lienthong.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from lienthong.engine import Engine


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
    file's ``__file__``), else the sample procedure of that name shipped in the package
    (``lienthong/data/processes``, where the checkout's ``processes`` points)."""
    for folder in Path(near).resolve().parents:
        candidate = folder / "processes" / name
        if candidate.is_file():
            return candidate
    shipped = Path(__file__).parent.parent / "data" / "processes" / name
    if shipped.is_file():
        return shipped
    raise FileNotFoundError(f"processes/{name} not found above {near} nor in the package")


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
    return Organisation.from_file(Path(__file__).parent.parent / "data" / "demo-org.toml")
