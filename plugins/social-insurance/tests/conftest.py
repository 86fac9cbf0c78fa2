"""Fixtures: an Engine on a fresh in-memory store, the demo organisation, a fixed clock.

The dossier runner and the stand-in for the other agencies' service operations come from
``lienthong.testing``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from lienthong import VN_TZ, Engine, FixedClock, Organisation
from lienthong.testing import StubOperations, run_dossier

PROCESS = "khai-sinh-thuong-tru-bhyt.bpmn"
DEMO_ORG = resources.files("lienthong") / "data" / "demo-org.toml"
APPLICANT = {"name": "Nguyễn Văn An", "address": "Thôn 1, xã Tân Mẫu"}
#: The procedure's other service operation, so that it loads without the police plugin.
OTHER_AGENCIES = {"police.record_residence": {"residence_recorded": True}}


def find_process(name: str = PROCESS) -> Path:
    """The repository's ``processes/`` copy of a BPMN file (the plugins live in the same repo)."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "processes" / name
        if candidate.is_file():
            return candidate
    pytest.skip(f"processes/{name} not found above {__file__}")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ))  # a Monday


@pytest.fixture
def make_engine(clock: FixedClock) -> Callable[..., Engine]:
    def make(*plugins: object, db: str = ":memory:") -> Engine:
        org = Organisation.from_file(str(DEMO_ORG))
        stub = StubOperations(OTHER_AGENCIES, name="other-agencies")
        engine = Engine(db, org=org, clock=clock, plugins=[*plugins, stub], entry_points=False)
        engine.load_procedure(find_process())
        return engine

    return make


STEP_DATA = {
    "register_birth": {"birth_certificate_no": "15/2025"},
    "register_residence": {"residence_registration_no": "TT-2025-0015"},
}


@pytest.fixture
def run(clock: FixedClock) -> Callable[..., str]:
    """``run(engine, data=..., step_data=..., applicant=..., channel=..., until=...)``: receive a
    khai sinh dossier and work it (see ``lienthong.testing.run_dossier``); returns the code."""

    def go(engine: Engine, *, step_data: dict[str, Any] | None = None,
           applicant: dict[str, Any] | None = None, **kw: Any) -> str:
        return run_dossier(engine, clock, "233448", applicant=applicant or APPLICANT,
                           step_data={**STEP_DATA, **(step_data or {})},
                           pick=lambda members: members[-1], **kw)

    return go
