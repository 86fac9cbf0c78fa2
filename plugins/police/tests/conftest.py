"""Fixtures: an Engine on a fresh in-memory store, the demo organisation, a fixed clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from lienthong import VN_TZ, Engine, FixedClock, Organisation, hookimpl

PROCESS = "khai-sinh-thuong-tru-bhyt.bpmn"
DEMO_ORG = resources.files("lienthong") / "data" / "demo-org.toml"
APPLICANT = {"name": "Nguyễn Văn An", "address": "Thôn 1, xã Tân Mẫu"}


def find_process(name: str = PROCESS) -> Path:
    """The repository's ``processes/`` copy of a BPMN file (the plugins live in the same repo)."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "processes" / name
        if candidate.is_file():
            return candidate
    pytest.skip(f"processes/{name} not found above {__file__}")


class OtherAgencies:
    """Performs the procedure's other service operation, so that it loads without the
    social-insurance plugin."""

    __name__ = "other-agencies"

    @hookimpl
    def operations(self) -> list[str]:
        return ["social_insurance.issue_card"]

    @hookimpl
    def perform_operation(self, operation: str) -> dict[str, Any] | None:
        return {"card_issued": True} if operation == "social_insurance.issue_card" else None


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))  # a Monday


@pytest.fixture
def make_engine(clock: FixedClock) -> Callable[..., Engine]:
    def make(*plugins: object, db: str = ":memory:") -> Engine:
        org = Organisation.from_file(str(DEMO_ORG))
        engine = Engine(db, org=org, clock=clock, plugins=[*plugins, OtherAgencies()],
                        entry_points=False)
        engine.load_procedure(find_process())
        return engine

    return make


@pytest.fixture
def run(clock: FixedClock) -> Callable[..., str]:
    """``run(engine, data=..., step_data=...)``: see :func:`run_dossier`."""
    return lambda engine, **kw: run_dossier(engine, clock, **kw)


def run_dossier(
    engine: Engine, clock: FixedClock, *, data: Mapping[str, Any] | None = None,
    step_data: Mapping[str, Mapping[str, Any]] | None = None,
    applicant: Mapping[str, Any] | None = None, channel: int = 1, until: str | None = None,
) -> str:
    """Receive a khai sinh dossier and complete every open user step with an officer of its
    unit until the dossier is closed, only service steps are left, or the step ``until`` is
    open. Returns the code."""
    proc = engine.procedure("233448")
    desk = engine.org.units_with_role("one-stop-desk")[0].code
    d = engine.receive(
        proc.code, applicant=applicant or APPLICANT, receiving_unit=desk,
        documents=proc.required_documents, data=data or {}, channel=channel,
    )
    defaults = {
        "register_birth": {"birth_certificate_no": "15/2025"},
        "register_residence": {"residence_registration_no": "TT-2025-0015"},
    }
    defaults.update(step_data or {})
    while not engine.dossier(d.code).is_closed:
        open_user = [s for s in engine.steps(d.code) if s.is_open and s.kind == "user"]
        if not open_user:
            break
        step = open_user[0]
        if step.spec_id == until:
            break
        clock.advance(minutes=30)
        officer = engine.org.members(step.unit)[-1].id
        engine.complete(d.code, step.id, officer, defaults.get(step.spec_id, {}))
    return d.code
