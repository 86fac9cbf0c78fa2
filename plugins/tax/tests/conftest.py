"""Fixtures: an Engine on a fresh in-memory store, the demo organisation, a fixed clock, the
liên thông household business procedure; the helpers come from ``lienthong.testing``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

try:
    import lienthong_tax  # noqa: F401
except ImportError:  # run from the checkout before `pip install -e plugins/tax`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lienthong import VN_TZ, Engine, FixedClock
from lienthong.testing import make_test_engine, run_dossier, sample_process

CODE = "ND297-HKD-ANTT-KARAOKE"
APPLICANT = {"name": "Phan Thị Mơ", "address": "Số 12, thôn 3, xã Tân Mẫu"}
OWNER_ID = "038190001234"  # a made-up 12-digit số định danh cá nhân
STEP_DATA = {
    "reception": {"owner_id_number": OWNER_ID},
    "register_household": {"household_business_no": "41A8-000123"},
}


@pytest.fixture
def owner_id() -> str:
    """The number the desk enters at reception in ``run``."""
    return OWNER_ID


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ))  # a Monday


@pytest.fixture
def make_engine(clock: FixedClock) -> Callable[..., Engine]:
    def make(*plugins: object) -> Engine:
        bpmn = sample_process("ho-kinh-doanh-karaoke-lien-thong.bpmn", near=__file__)
        return make_test_engine(*plugins, clock=clock, processes=[bpmn])

    return make


@pytest.fixture
def run(clock: FixedClock) -> Callable[..., str]:
    """``run(engine, step_data=..., applicant=..., until=...)``: receive a dossier of the group
    and work it (see ``lienthong.testing.run_dossier``); returns its code."""

    def go(engine: Engine, *, step_data: dict[str, Any] | None = None, **kw: Any) -> str:
        kw.setdefault("applicant", APPLICANT)
        return run_dossier(engine, clock, CODE, step_data={**STEP_DATA, **(step_data or {})}, **kw)

    return go
