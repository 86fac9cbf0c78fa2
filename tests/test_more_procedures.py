"""The four procedures of processes/ made from published internal processes, each driven to the
end: a same-day "5 tại chỗ" procedure at one desk, a refusal after appraisal (an exclusive
gateway), a commune-level procedure after the 2025 reform, and a business household's
registration with a tax service step."""

from __future__ import annotations

from datetime import datetime

import pytest

from lienthong import FixedClock, ResultClass, Status
from lienthong.bpmn import lint_paths
from lienthong.testing import StubOperations, make_test_engine, run_dossier
from support import PROCESSES, vn

CHUNG_THUC = PROCESSES / "chung-thuc-ban-sao-tai-cho.bpmn"
TACH_THUA = PROCESSES / "tach-hop-thua-dat.bpmn"
KHAU_TRU = PROCESSES / "khau-tru-boi-thuong-tai-dinh-cu.bpmn"
KARAOKE = PROCESSES / "ho-kinh-doanh-karaoke-lien-thong.bpmn"
COMMUNE = "000.00.41.H29"  # Ủy ban nhân dân xã Tân Mẫu
TAX = {"tax.register_household": {"tax_registered": True, "tax_code": "038190001234"}}


def engine_at(t: datetime, *files, plugins=()):
    clock = FixedClock(t)
    return make_test_engine(*plugins, clock=clock, processes=list(files)), clock


@pytest.mark.parametrize("path", [CHUNG_THUC, TACH_THUA, KHAU_TRU, KARAOKE], ids=lambda p: p.stem)
def test_each_lints_clean_and_cites_its_published_process(path) -> None:
    engine, _ = engine_at(vn(2026, 3, 2, 8), path, plugins=[StubOperations(TAX)])
    assert lint_paths([path], org=engine.org) == []
    [proc] = engine.procedures()
    assert "Quyết định" in proc.legal_basis  # the decision that publishes it
    engine.close()


# -- same day, one desk -----------------------------------------------------------------------
def test_chung_thuc_is_worked_at_one_desk_the_same_day() -> None:
    engine, clock = engine_at(vn(2026, 3, 3, 9, 0), CHUNG_THUC)
    proc = engine.procedure("2.000815")
    assert proc.same_day and len(proc.lanes) == 1
    [desk] = {s.role for s in proc.steps.values()}
    unit = engine.org.resolve_role(desk)
    code = run_dossier(
        engine, clock, "2.000815", step_data={"sign": {"certification_no": "123/2026/SCT-BS"}}
    )
    d = engine.dossier(code)
    assert d.status == Status.RETURNED and d.appointment == vn(2026, 3, 3, 17, 0)
    assert d.resolved_at.date() == d.appointment.date() and d.result_class == ResultClass.ON_TIME
    assert {s.unit for s in engine.steps(code)} == {unit.code}  # every step at the one desk
    engine.close()


def test_chung_thuc_received_after_15h_is_due_the_next_working_day() -> None:
    engine, _ = engine_at(vn(2026, 3, 6, 15, 20), CHUNG_THUC)  # a Friday
    d = engine.receive(
        "2.000815", applicant={"name": "Vũ Thị Lý"}, receiving_unit="000.11.41.H29",
        documents=["ban_chinh", "ban_sao"],
    )  # fmt: skip
    assert d.appointment == vn(2026, 3, 9, 17, 0)  # Monday
    engine.close()


# -- refusal after appraisal ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("eligible", "taken", "skipped"),
    [(True, "confirm_and_issue", "refuse"), (False, "refuse", "confirm_and_issue")],
)
def test_tach_thua_issues_or_refuses_after_the_check(eligible, taken, skipped) -> None:
    engine, clock = engine_at(vn(2026, 3, 2, 8, 0), TACH_THUA)
    data = {
        "check_conditions": {"eligible": eligible},
        "confirm_and_issue": {"certificate_no": "CT-01"},
        "refuse": {"refusal_reason": "Thửa đất sau tách nhỏ hơn diện tích tối thiểu"},
    }
    code = run_dossier(engine, clock, "DTP-QD138-D16", step_data=data, minutes_per_step=120)
    d = engine.dossier(code)
    assert d.status == Status.RETURNED
    worked = [s.spec_id for s in engine.steps(code)]
    assert taken in worked and skipped not in worked
    assert worked[0] == "reception" and worked[-1] == "return_result"
    due = engine.calendar.add_minutes(d.received_at, 12 * 480)
    assert d.appointment == due
    engine.close()


# -- commune level, after the 2025 reform -----------------------------------------------------
def test_khau_tru_runs_at_the_commune_in_168_working_hours() -> None:
    engine, clock = engine_at(vn(2026, 3, 2, 8, 0), KHAU_TRU)
    proc = engine.procedure("1.012994")
    assert proc.deadline_minutes == 168 * 60
    # Every lane is a unit of the commune (chính quyền hai cấp: no district in between).
    for lane in proc.lanes.values():
        unit = engine.org.resolve_role(lane.role)
        assert COMMUNE in (unit.code, unit.parent), (lane.role, unit.code)
    code = run_dossier(
        engine, clock, "1.012994", step_data={"issue": {"document_no": "45/UBND-KT"}},
        minutes_per_step=240,
    )  # fmt: skip
    d = engine.dossier(code)
    assert d.status == Status.RETURNED and d.resolved_at <= d.appointment
    assert d.appointment == engine.calendar.add_minutes(d.received_at, 21 * 480)
    steps = engine.steps(code)
    assert [s.spec_id for s in steps] == [
        "reception", "assign", "appraise", "review", "approve", "issue", "return_result",
    ]  # fmt: skip
    assert [s.share_minutes for s in steps] == [240, 240, 6720, 1440, 960, 480, 0]
    engine.close()


# -- business household, with a tax step ------------------------------------------------------
def test_the_household_is_registered_for_tax_between_its_certificate_and_the_police() -> None:
    stub = StubOperations(TAX)
    engine, clock = engine_at(vn(2026, 3, 2, 8, 0), KARAOKE, plugins=[stub])
    code = run_dossier(
        engine, clock, "ND297-HKD-ANTT-KARAOKE",
        step_data={"reception": {"owner_id_number": "038190001234"}},
        minutes_per_step=60,
    )  # fmt: skip
    d = engine.dossier(code)
    assert d.status == Status.RETURNED
    assert d.appointment == engine.calendar.add_minutes(d.received_at, 16 * 480)
    steps = engine.steps(code)
    order = [s.spec_id for s in steps]
    assert order.index("register_household") < order.index("register_tax")
    assert order.index("register_tax") < order.index("security_certificate")
    [tax] = [s for s in steps if s.spec_id == "register_tax"]
    assert tax.kind == "service" and tax.data["tax_code"] == "038190001234"
    assert stub.calls == [("tax.register_household", code)]
    units = {engine.org.unit(s.unit).name for s in steps}
    assert {"Phòng Kinh tế xã Tân Mẫu", "Công an xã Tân Mẫu", "Thuế cơ sở 1 Tỉnh Mẫu"} <= units
    engine.close()
