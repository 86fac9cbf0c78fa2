"""A khai sinh dossier from reception to returned result, through the public API."""

from __future__ import annotations

from pathlib import Path

from lienthong import Channel, Engine, FixedClock, ResultClass, Status
from support import BHXH, COMMUNE, DESK, POLICE, officer_of, receive_birth, vn


def test_dossier_travels_unit_to_unit_and_every_handoff_is_kept(
    engine: Engine, clock: FixedClock
) -> None:
    d = receive_birth(engine, "Nguyễn Thị Lan", channel=Channel.ONLINE)
    assert d.code == f"{DESK}-250303-0001"
    assert d.status == Status.NEW and d.appointment is None

    # Only the desk sees the reception step; it must be accepted within 8 working hours.
    [reception] = engine.open_steps(unit=DESK)
    assert reception.name == "Tiếp nhận hồ sơ"
    assert reception.due_at == vn(2025, 3, 4, 9, 0)
    assert engine.open_steps(unit=COMMUNE) == []

    clock.set(vn(2025, 3, 3, 10, 0))
    desk_officer = officer_of(engine, DESK)
    engine.claim(d.code, reception.id, desk_officer)
    d = engine.complete(d.code, reception.id, desk_officer)
    # The legal clock starts at the valid receipt: 3 working days.
    assert d.status == Status.PROCESSING
    assert d.received_at == vn(2025, 3, 3, 10, 0)
    assert d.appointment == vn(2025, 3, 6, 10, 0)

    [birth] = engine.open_steps(unit=COMMUNE)
    assert birth.due_at == vn(2025, 3, 4, 10, 0) and birth.share_minutes == 480
    clock.set(vn(2025, 3, 3, 15, 0))
    engine.complete(
        d.code, birth.id, officer_of(engine, COMMUNE), {"birth_certificate_no": "KS-2025-001"}
    )
    # The script task forwarded it; police and social insurance now work in parallel.
    [residence] = engine.open_steps(unit=POLICE)
    [card] = engine.open_steps(unit=BHXH)
    assert residence.due_at == card.due_at == vn(2025, 3, 5, 15, 0)

    clock.set(vn(2025, 3, 4, 9, 0))
    engine.complete(d.code, card.id, officer_of(engine, BHXH))
    assert engine.dossier(d.code).status == Status.PROCESSING  # the join waits for the police
    clock.set(vn(2025, 3, 5, 16, 0))
    engine.complete(
        d.code, residence.id, officer_of(engine, POLICE), {"residence_registration_no": "TT-77"}
    )
    d = engine.dossier(d.code)
    assert d.status == Status.RESOLVED and d.result_class == ResultClass.EARLY
    clock.set(vn(2025, 3, 6, 8, 30))
    d = engine.return_result(d.code, desk_officer)
    assert d.status == Status.RETURNED and d.closed_at == vn(2025, 3, 6, 8, 30)

    steps = engine.steps(d.code)
    assert [s.spec_id for s in steps] == [
        "reception",
        "register_birth",
        "register_residence",
        "review_card",
        "issue_card",
        "record_residence",
        "return_result",
    ]
    assert {s.spec_id: s.result_class for s in steps}["register_residence"] == ResultClass.LATE
    assert [s.data.get("health_insurance_card") for s in steps if s.spec_id == "issue_card"] == [
        f"TE1{d.code[-4:]}"
    ]

    events = [
        (r["event"], r["from_unit"], r["to_unit"])
        for r in engine.audit_rows(d.code)
        if r["event"] in ("received", "handoff", "returned")
    ]
    assert events == [
        ("received", None, DESK),
        ("handoff", DESK, COMMUNE),
        ("handoff", COMMUNE, POLICE),
        ("handoff", COMMUNE, BHXH),
        ("handoff", BHXH, BHXH),  # review -> the plugin's card issue
        ("handoff", BHXH, None),  # the card branch waits at the join
        ("handoff", POLICE, POLICE),  # registration -> the plugin's record
        ("handoff", POLICE, DESK),  # the join fires: back to the desk
        ("returned", DESK, None),
    ]
    sheet = engine.control_sheet(d.code)
    # The branch waiting at the join is the engine's, not a handoff: the sheet leaves it out.
    assert [(r.event, r.receiver.endswith(f"({BHXH})")) for r in sheet.rows][4] == (
        "handoff",
        True,
    )
    assert len(sheet.rows) == len(events) - 1
    assert all(r.kind for r in sheet.rows)
    # Người nhận: who took each step; the desk officer claimed the reception step.
    assert sheet.rows[0].receiver_officer == "Trần Thị Mai"
    commune_officer = engine.org.officer(officer_of(engine, COMMUNE)).name
    assert sheet.rows[1].receiver_officer == commune_officer
    # The card plugin took its step and the residence plugin closed its own: no officer's name.
    assert sheet.rows[4].receiver_officer == "Hệ thống tự động"
    assert sheet.rows[6].giver_officer == "Hệ thống tự động"
    assert "(system)" not in sheet.render()
    assert [r.at for r in sheet.rows] == sorted(r.at for r in sheet.rows)
    text = sheet.render()
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text and d.code in text
    assert "Quá hạn" in text and "Trước hạn" in text
    assert engine.verify_audit().ok


def test_daily_sequence_is_per_receiving_unit_and_per_day(
    engine: Engine, clock: FixedClock
) -> None:
    docs = ["to_khai_lien_thong", "giay_chung_sinh"]
    codes = [
        engine.receive("233448", applicant={"name": "A"}, receiving_unit=DESK, documents=docs).code
        for _ in range(2)
    ]
    other = engine.receive(
        "233448",
        applicant={"name": "B"},
        receiving_unit=COMMUNE,
        documents=docs,
        routing={"one-stop-desk": DESK},
    ).code
    clock.set(vn(2025, 3, 4, 8, 0))
    next_day = engine.receive(
        "233448", applicant={"name": "C"}, receiving_unit=DESK, documents=docs
    ).code
    assert codes == [f"{DESK}-250303-0001", f"{DESK}-250303-0002"]
    assert other == f"{COMMUNE}-250303-0001"
    assert next_day == f"{DESK}-250304-0001"


def test_direct_dossier_starts_the_clock_at_reception(engine: Engine) -> None:
    d = engine.receive(
        "233448",
        applicant={"name": "A"},
        receiving_unit=DESK,
        documents=["to_khai_lien_thong", "giay_chung_sinh"],
        channel=Channel.DIRECT,
        officer="tran.thi.mai",
    )
    assert d.status == Status.ACCEPTED
    assert d.appointment == vn(2025, 3, 6, 9, 0)


def test_a_dossier_keeps_the_version_it_was_received_under(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    from support import ARCHIVE

    old = engine.receive(
        "1.013932",
        applicant={"name": "A"},
        receiving_unit=DESK,
        documents=["phieu_dang_ky_su_dung_tai_lieu"],
    )
    v2 = ARCHIVE.read_bytes().replace(b'value="0.25d"', b'value="0.2d"', 1)
    stored = engine.db["procedures"].count
    new_proc = engine.load_procedure(v2, name="archive-v2.bpmn")
    assert engine.db["procedures"].count == stored + 1
    assert new_proc.version != old.procedure_version
    new = engine.receive(
        "1.013932",
        applicant={"name": "B"},
        receiving_unit=DESK,
        documents=["phieu_dang_ky_su_dung_tai_lieu"],
    )
    assert new.procedure_version == new_proc.version
    assert engine.dossier(old.code).procedure_version == old.procedure_version
    # loading the same bytes again stores nothing new
    engine.load_procedure(v2, name="archive-v2.bpmn")
    assert engine.db["procedures"].count == stored + 1
    from support import run_to_end

    run_to_end(engine, old.code, clock)
    assert engine.dossier(old.code).status == Status.RETURNED


def test_refused_at_reception(engine: Engine) -> None:
    d = receive_birth(engine, "A", channel=2)
    [r] = engine.open_steps(unit=DESK)
    d = engine.complete(
        d.code, r.id, "tran.thi.mai", {"accepted": False, "reason": "Không thuộc thẩm quyền"}
    )
    assert d.status == Status.REFUSED and d.is_closed
    assert engine.open_steps(unit=DESK) == []


def test_withdraw_cancels_open_steps(engine: Engine) -> None:
    d = receive_birth(engine, "A")
    d = engine.withdraw(d.code, reason="Công dân xin rút hồ sơ")
    assert d.status == Status.WITHDRAWN
    assert all(s.status == "cancelled" for s in engine.steps(d.code))
    assert engine.verify_audit().ok


def test_officer_lists(engine: Engine) -> None:
    d = receive_birth(engine, "A")
    [s] = engine.open_steps(officer="tran.thi.mai")
    assert s.dossier == d.code
    engine.claim(d.code, s.id, "tran.thi.mai")
    others = [o.id for o in engine.org.members(DESK) if o.id != "tran.thi.mai"]
    assert engine.open_steps(officer=others[0]) == []
    assert [x.id for x in engine.open_steps(officer="tran.thi.mai")] == [s.id]
