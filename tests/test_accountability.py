"""Accountability facts and the apology, worked out by hand (issue 10, items 1 and 2).

Every instant below is counted on the 2025 calendar by hand: working hours 08:00–12:00 and
13:00–17:00, Monday to Friday, 480 working minutes a day; no holiday falls in March 2025. The
checks read the raw rows (``steps``, ``dossiers``, ``dossier_faults``), which the reports read.

The liên thông birth group (233448, 3 working days) received Monday 3/3 09:00 is due Thursday 6/3
09:00. One working day before that, the apology's legal latest instant, is Wednesday 5/3 09:00;
its reminder half a working day earlier, Tuesday 4/3 14:00. The desk hands the dossier to the
commune at 09:30; the commune's step (1 working day) is due Tuesday 4/3 09:30.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lienthong import Engine, FixedClock, InvalidData, NotAllowed, ProcedureError, SlaError, Status
from support import BHXH, COMMUNE, DESK, KHAI_SINH, LAND, POLICE, receive_birth, snapshot, vn

TAX = "000.01.80.H29"
LAND_OFFICE = "000.01.10.H29"


def step_row(engine: Engine, step_id: int) -> dict[str, Any]:
    cur = engine.db.execute(
        "SELECT first_overdue_at, late_minutes, arrived_late, result_class, escalation_level, "
        "due_at, unit FROM steps WHERE id = ?",
        [step_id],
    )
    return dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))


def dossier_row(engine: Engine, code: str) -> dict[str, Any]:
    cur = engine.db.execute("SELECT * FROM dossiers WHERE code = ?", [code])
    return dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))


def fault_rows(engine: Engine, code: str) -> dict[str, int]:
    return dict(
        engine.db.execute("SELECT unit, minutes FROM dossier_faults WHERE dossier = ?", [code])
    )


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def birth_at_the_commune(engine: Engine, clock: FixedClock) -> tuple[str, int]:
    """Received Monday 3/3 09:00; the desk forwards it at 09:30. Returns (code, birth step)."""
    clock.set(vn(2025, 3, 3, 9, 0))
    d = receive_birth(engine, "Đỗ Minh Khánh")
    assert d.appointment == d.legal_appointment == vn(2025, 3, 6, 9, 0)
    assert d.apology_required_at == vn(2025, 3, 5, 9, 0)
    assert d.apology_at == vn(2025, 3, 4, 14, 0)
    [reception] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 9, 30))
    engine.complete(d.code, reception.id, "tran.thi.mai")
    [birth] = engine.open_steps(dossier=d.code)
    assert birth.due_at == vn(2025, 3, 4, 9, 30)
    return d.code, birth.id


def finish_after_the_commune(engine: Engine, clock: FixedClock, code: str, birth: int) -> None:
    """The commune registers the birth on Wednesday 10:00 (510 working minutes late: Tue 09:30
    to 12:00 is 150, the afternoon 240, Wed 08:00–10:00 120); the police register the residence
    on Thursday 14:00 and social insurance approves the card on Friday 7/3 09:00 (each within
    its 2 days, due Friday 10:00); the service steps run at once."""
    clock.set(vn(2025, 3, 5, 10, 0))
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    row = step_row(engine, birth)
    assert (row["late_minutes"], row["first_overdue_at"]) == (510, "2025-03-04T09:30:00+07:00")
    steps = {s.spec_id: s for s in engine.open_steps(dossier=code)}
    assert steps["register_residence"].due_at == steps["review_card"].due_at == vn(2025, 3, 7, 10)
    clock.set(vn(2025, 3, 6, 14, 0))
    engine.complete(code, steps["register_residence"].id, "nong.van.binh",
                    {"residence_registration_no": "TT-1"})
    clock.set(vn(2025, 3, 7, 9, 0))
    engine.complete(code, steps["review_card"].id, "vuong.thi.lien")


# -- item 1: facts never rewritten --------------------------------------------------------------
def test_a_step_that_went_overdue_stays_overdue_after_a_supplement_restarts_it(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    # The tick runs late, on Wednesday 08:30: the fact is the due instant the step missed,
    # Tuesday 09:30, not the instant the tick saw it.
    report = engine.tick(vn(2025, 3, 5, 8, 30))
    assert ("escalated", vn(2025, 3, 4, 9, 30)) in [(k, t) for t, k, *_ in report.actions]
    assert step_row(engine, birth)["first_overdue_at"] == "2025-03-04T09:30:00+07:00"
    # Wednesday 09:00, 930 working minutes after the commune got it (within the 3 days): the
    # commune asks for a supplement; it arrives Thursday 10:00 and the clock restarts in full.
    clock.set(vn(2025, 3, 5, 9, 0))
    engine.request_supplement(code, officer="trieu.thi.hanh", missing=["giay_chung_sinh"],
                              reason="Giấy chứng sinh không rõ tên người mẹ")
    clock.set(vn(2025, 3, 6, 10, 0))
    d = engine.receive_supplement(code, officer="tran.thi.mai")
    assert d.legal_appointment == d.appointment == vn(2025, 3, 11, 10, 0)  # 3 days from Thu
    row = step_row(engine, birth)
    assert (row["due_at"], row["escalation_level"]) == ("2025-03-07T10:00:00+07:00", 0)
    # Done on Thursday 14:00: early against its new due instant, but it went overdue.
    clock.set(vn(2025, 3, 6, 14, 0))
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    assert step_row(engine, birth) == {
        "first_overdue_at": "2025-03-04T09:30:00+07:00",
        "late_minutes": 0,
        "arrived_late": 0,
        "result_class": "early",
        "escalation_level": 0,
        "due_at": "2025-03-07T10:00:00+07:00",
        "unit": COMMUNE,
    }


def test_overdue_with_no_tick_before_the_supplement_is_recorded_when_it_is_asked_for(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 5, 9, 0))  # no tick has run; the step is overdue since Tue 09:30
    engine.request_supplement(code, officer="trieu.thi.hanh", missing=["x"], reason="thiếu")
    assert step_row(engine, birth)["first_overdue_at"] == "2025-03-04T09:30:00+07:00"


def test_a_step_done_late_with_no_tick_went_overdue_at_its_due_instant(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 4, 17, 30))  # after hours: no working minute past 17:00, yet late
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    row = step_row(engine, birth)
    assert (row["result_class"], row["first_overdue_at"]) == ("late", "2025-03-04T09:30:00+07:00")
    assert row["late_minutes"] == 390  # Tue 09:30 -> 17:00: 150 + 240


def test_a_hand_back_that_arrived_late_is_not_charged_to_the_desk(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    finish_after_the_commune(engine, clock, code, birth)
    steps = {s.spec_id: s for s in engine.steps(code)}
    # The police's service step opened Thursday 14:00, after the appointment (Thu 09:00) it is
    # due with: it arrived late, and was done 240 working minutes late (09:00–12:00, 13–14).
    assert step_row(engine, steps["record_residence"].id)["arrived_late"] == 1
    assert step_row(engine, steps["record_residence"].id)["late_minutes"] == 240
    # The result is ready on Friday 09:00 (status 9): 480 working minutes after Thursday 09:00.
    d = dossier_row(engine, code)
    assert (d["status"], d["late_minutes"], d["result_class"]) == (9, 480, "late")
    hand_back = steps["return_result"]
    assert (hand_back.unit, step_row(engine, hand_back.id)["arrived_late"]) == (DESK, 1)
    clock.set(vn(2025, 3, 7, 10, 0))
    d2 = engine.return_result(code, "nguyen.thu.ha")
    assert d2.status == Status.RETURNED and d2.result_class == "late"
    row = step_row(engine, hand_back.id)
    assert (row["late_minutes"], row["arrived_late"]) == (540, 1)  # Thu 09:00 -> Fri 10:00
    # Only the commune made it late: neither the desk nor the police, which received lateness.
    assert fault_rows(engine, code) == {COMMUNE: 510}
    assert engine.faults(code) == {COMMUNE: 510}


def test_a_dossier_in_time_has_no_faults(engine: Engine, clock: FixedClock) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    steps = {s.spec_id: s for s in engine.open_steps(dossier=code)}
    clock.set(vn(2025, 3, 3, 11, 0))
    engine.complete(code, steps["register_residence"].id, "nong.van.binh",
                    {"residence_registration_no": "TT-1"})
    engine.complete(code, steps["review_card"].id, "vuong.thi.lien")
    d = dossier_row(engine, code)
    assert (d["late_minutes"], d["result_class"]) == (0, "early")
    assert fault_rows(engine, code) == {}


# -- item 2: the apology done right -------------------------------------------------------------
def test_an_apologised_dossier_finished_after_its_first_appointment_is_late(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    # The reminder goes out Tuesday 14:00 to the head of the unit at fault, the commune's
    # civil-status section, whose step is overdue since 09:30; not at the latest instant.
    report = engine.tick(vn(2025, 3, 4, 14, 0))
    assert ("apology_required", vn(2025, 3, 4, 14, 0)) in [(k, t) for t, k, *_ in report.actions]
    [reminder] = [r for r in engine.audit_rows(code) if r["event"] == "apology_required"]
    assert (reminder["from_unit"], reminder["to_officer"]) == (COMMUNE, "trieu.thi.hanh")
    clock.set(vn(2025, 3, 4, 15, 0))
    d = engine.apologise(code, officer="trieu.thi.hanh", reason="Cần xác minh thông tin",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    row = dossier_row(engine, code)
    assert (row["apology_unit"], row["apology_by"], row["apology_late"]) == (
        COMMUNE, "trieu.thi.hanh", 0)
    assert row["apology_issued_at"] == "2025-03-04T15:00:00+07:00"
    assert row["apology_required_at"] == "2025-03-05T09:00:00+07:00"  # kept after the apology
    assert d.appointment == vn(2025, 3, 10, 9, 0)
    finish_after_the_commune(engine, clock, code, birth)
    # The hand-back is due with the dossier, at the new appointment: it did not arrive late.
    [hand_back] = engine.open_steps(dossier=code)
    assert (hand_back.due_at, hand_back.arrived_late) == (vn(2025, 3, 10, 9, 0), False)
    # Ready Friday 09:00, before the new appointment but 480 working minutes after the first:
    # late on both clocks, apology or not.
    row = dossier_row(engine, code)
    assert (row["status"], row["late_minutes"], row["result_class"], row["kpi_class"]) == (
        9, 480, "late", "late")
    assert (row["legal_appointment"], row["appointment"]) == (
        "2025-03-06T09:00:00+07:00", "2025-03-10T09:00:00+07:00")
    assert fault_rows(engine, code) == {COMMUNE: 510}


@pytest.mark.parametrize(
    "officer",
    ["vi.van.manh", "tran.thi.mai", "luong.van.tien", "ha.van.long"],
    ids=["police head", "desk head", "commune officer", "head of the unit above"],
)
def test_an_apology_from_a_unit_not_at_fault_is_refused_naming_the_unit_at_fault(
    engine: Engine, clock: FixedClock, officer: str
) -> None:
    code, _birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 4, 15, 0))
    assert [(f.unit, f.why) for f in engine.units_at_fault(code)] == [
        (COMMUNE, "its step 2 (Đăng ký khai sinh) is overdue since 2025-03-04T09:30:00+07:00")]
    before = snapshot(engine)
    with pytest.raises(NotAllowed) as info:
        engine.apologise(code, officer=officer, reason="x", new_appointment=vn(2025, 3, 10, 9, 0))
    message = str(info.value)
    assert f"{COMMUNE} (Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu)" in message
    assert "overdue" in message and "signed by trieu.thi.hanh" in message
    assert officer in message
    assert snapshot(engine) == before


def test_with_no_lateness_yet_the_units_holding_the_work_may_apologise(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    clock.set(vn(2025, 3, 5, 8, 30))  # nothing overdue; the police and social insurance hold it
    assert [f.unit for f in engine.units_at_fault(code)] == [POLICE, BHXH]
    with pytest.raises(NotAllowed, match=r"trieu\.thi\.hanh leads 000\.01\.41\.H29"):
        engine.apologise(code, officer="trieu.thi.hanh", reason="x",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    d = engine.apologise(code, officer="ha.thi.thao", reason="Hệ thống cấp thẻ gián đoạn",
                         new_appointment=vn(2025, 3, 10, 9, 0))  # a deputy of social insurance
    assert (d.apology_unit, d.apology_by, d.apology_late) == (BHXH, "ha.thi.thao", False)


def test_an_apology_after_the_legal_latest_instant_is_accepted_and_recorded_late(
    engine: Engine, clock: FixedClock
) -> None:
    code, _birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 5, 9, 1))  # a minute after Wednesday 09:00
    d = engine.apologise(code, officer="trieu.thi.hanh", reason="Cần xác minh thông tin",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    row = dossier_row(engine, code)
    assert (row["apology_late"], row["apology_required_at"], row["apology_issued_at"]) == (
        1, "2025-03-05T09:00:00+07:00", "2025-03-05T09:01:00+07:00")
    assert d.appointment == vn(2025, 3, 10, 9, 0) and d.apology_late
    [letter] = [r for r in engine.audit_rows(code) if r["event"] == "apology"]
    assert "muộn" in letter["note"]


def test_an_apology_at_the_latest_instant_is_in_time(engine: Engine, clock: FixedClock) -> None:
    code, _birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 5, 9, 0))
    d = engine.apologise(code, officer="trieu.thi.hanh", reason="x",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    assert not d.apology_late


def test_no_apology_for_an_online_dossier_not_yet_accepted(
    engine: Engine, clock: FixedClock
) -> None:
    d = receive_birth(engine, "A", channel=2)
    assert d.appointment is None and d.apology_at is None and d.apology_required_at is None
    before = snapshot(engine)
    with pytest.raises(SlaError, match="has no appointment yet"):
        engine.apologise(d.code, officer="tran.thi.mai", reason="x",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    assert snapshot(engine) == before


def test_the_new_appointment_must_be_after_now(engine: Engine, clock: FixedClock) -> None:
    code, _birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 7, 9, 0))  # past the appointment, Thursday 09:00
    before = snapshot(engine)
    with pytest.raises(InvalidData, match=r"is not after now"):
        engine.apologise(code, officer="trieu.thi.hanh", reason="x",
                         new_appointment=vn(2025, 3, 6, 16, 0))
    assert snapshot(engine) == before


def test_no_step_completes_while_the_applicant_supplements(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = birth_at_the_commune(engine, clock)
    engine.request_supplement(code, officer="trieu.thi.hanh", missing=["x"], reason="thiếu")
    before = snapshot(engine)
    with pytest.raises(SlaError, match=r"status 5, Yêu cầu bổ sung giấy tờ.*supplement"):
        engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    assert snapshot(engine) == before


# -- the fallback: late, but no step was ----------------------------------------------------------
def test_a_dossier_late_with_no_late_step_is_charged_to_who_held_the_work(
    engine: Engine, clock: FixedClock
) -> None:
    """Land 1.013831 (8 days), received Monday 3/3 08:00: due Wednesday 12/3 17:00; the latest
    instant for the apology is Wednesday 12/3 08:00 (the next working instant after Tuesday
    17:00). The tax office's step has no share: due with the dossier. Its head apologises on
    Tuesday 11/3 with Friday 14/3 17:00; the step is then due then, and is done in time for it on
    Thursday 10:00; the result is ready at 11:00, 180 working minutes after the first appointment.
    No step was late: the tax office held the work when the appointment passed, and kept it 120
    working minutes past it (Thursday 08:00–10:00)."""
    proc = engine.procedure("1.013831")
    clock.set(vn(2025, 3, 3, 8, 0))
    d = engine.receive(proc.code, applicant={"name": "Hồ Văn Nam"}, receiving_unit=DESK,
                       documents=list(proc.required_documents))
    assert d.appointment == vn(2025, 3, 12, 17, 0)
    assert d.apology_required_at == vn(2025, 3, 12, 8, 0)
    [reception] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 9, 0))
    engine.complete(d.code, reception.id, "tran.thi.mai")
    [review] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 4, 10, 0))
    engine.complete(d.code, review.id, "ta.duc.anh")
    [tax] = engine.open_steps(dossier=d.code)
    assert (tax.unit, tax.due_at) == (TAX, vn(2025, 3, 12, 17, 0))
    clock.set(vn(2025, 3, 11, 14, 0))
    assert [f.unit for f in engine.units_at_fault(d.code)] == [TAX]
    engine.apologise(d.code, officer="giap.van.cuong", reason="Chờ xác minh giá đất",
                     new_appointment=vn(2025, 3, 14, 17, 0))
    tax = engine.step(d.code, tax.id)
    assert tax.due_at == tax.next_escalation_at == vn(2025, 3, 14, 17, 0)
    clock.set(vn(2025, 3, 13, 10, 0))
    engine.complete(d.code, tax.id, "au.van.phuc", {"tax_notice_no": "TB-1"})
    assert step_row(engine, tax.id)["late_minutes"] == 0
    [cadastre] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 13, 11, 0))
    engine.complete(d.code, cadastre.id, "ta.duc.anh")
    row = dossier_row(engine, d.code)
    assert (row["late_minutes"], row["result_class"]) == (180, "late")
    assert fault_rows(engine, d.code) == {TAX: 120}


# -- the lead agency, where the procedure says so -------------------------------------------------
def with_apology_by(value: str) -> bytes:
    return KHAI_SINH.read_bytes().replace(
        b'<camunda:property name="lienthong:deadline" value="3d"/>',
        b'<camunda:property name="lienthong:deadline" value="3d"/>'
        + f'<camunda:property name="lienthong:apology-by" value="{value}"/>'.encode(),
    )


def test_a_procedure_may_make_the_lead_agency_sign_the_apology(
    engine: Engine, clock: FixedClock
) -> None:
    proc = engine.load_procedure(with_apology_by("lead"), name="khai-sinh-lead.bpmn")
    assert proc.apology_by == "lead"
    code, birth = birth_at_the_commune(engine, clock)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(code, birth, "trieu.thi.hanh", {"birth_certificate_no": "KS-1"})
    clock.set(vn(2025, 3, 5, 8, 30))  # the police and social insurance hold the work
    [lead] = engine.units_at_fault(code)
    assert lead.unit == COMMUNE and "lienthong:apology-by" in lead.why
    with pytest.raises(NotAllowed, match=r"000\.01\.41\.H29 .*lienthong:apology-by"):
        engine.apologise(code, officer="vi.van.manh", reason="x",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    d = engine.apologise(code, officer="trieu.thi.hanh", reason="Chậm cấp thẻ BHYT",
                         new_appointment=vn(2025, 3, 10, 9, 0))
    assert d.apology_unit == COMMUNE


def test_an_unknown_apology_by_value_does_not_load(engine: Engine) -> None:
    with pytest.raises(ProcedureError, match=r"apology-by 'desk' is not one of fault, lead"):
        engine.load_procedure(with_apology_by("desk"), name="khai-sinh-desk.bpmn")


def test_the_land_office_is_the_land_procedures_lead_agency(
    engine: Engine, clock: FixedClock
) -> None:
    data = LAND.read_bytes().replace(
        b'<spiffworkflow:property name="lienthong:deadline" value="8d"/>',
        b'<spiffworkflow:property name="lienthong:deadline" value="8d"/>'
        b'<spiffworkflow:property name="lienthong:apology-by" value="lead"/>',
    )
    proc = engine.load_procedure(data, name="land-lead.bpmn")
    d = engine.receive(proc.code, applicant={"name": "A"}, receiving_unit=DESK,
                       documents=list(proc.required_documents))
    assert [f.unit for f in engine.units_at_fault(d.code)] == [LAND_OFFICE]


# -- a store from before migration 008 ------------------------------------------------------------
def test_migration_008_backfills_the_legal_appointment(tmp_path: Any) -> None:
    import sqlite_utils

    from lienthong.store import MIGRATIONS, Store

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(str(path))
    for name, fn in MIGRATIONS:
        if name.startswith("008"):
            break
        fn(db)
        db.table("_migrations").insert({"name": name}, pk="name")
    db.execute("INSERT INTO procedures VALUES ('v', '233448', 'x', 'p', '3d', 's', x'00', 't')")
    common = ("'v', 'D', 1, 4, '{}', '[]', '{}', '2025-03-03T09:00:00+07:00'")
    db.execute(
        "INSERT INTO dossiers (code, procedure_code, procedure_version, receiving_unit, channel,"
        " status, applicant, documents, routing, arrived_at, appointment, original_appointment,"
        f" apology_at, apology_issued_at) VALUES ('A', '233448', {common},"
        " '2025-03-06T09:00:00+07:00', '2025-03-06T09:00:00+07:00',"
        " '2025-03-05T09:00:00+07:00', NULL)"
    )
    db.execute(
        "INSERT INTO dossiers (code, procedure_code, procedure_version, receiving_unit, channel,"
        " status, applicant, documents, routing, arrived_at, appointment, original_appointment,"
        f" apology_at, apology_issued_at) VALUES ('B', '233448', {common},"
        " '2025-03-10T09:00:00+07:00', '2025-03-06T09:00:00+07:00', NULL,"
        " '2025-03-04T15:00:00+07:00')"
    )
    db.conn.commit()
    db.close()
    store = Store(path)
    try:
        rows = {r["code"]: r for r in store.db["dossiers"].rows}
        # Not apologised: the appointment is the legal one; apologised: the one on the receipt.
        assert rows["A"]["legal_appointment"] == "2025-03-06T09:00:00+07:00"
        assert rows["B"]["legal_appointment"] == "2025-03-06T09:00:00+07:00"
        # The old reminder was the legal latest instant.
        assert rows["A"]["apology_required_at"] == "2025-03-05T09:00:00+07:00"
    finally:
        store.close()
