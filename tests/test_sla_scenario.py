"""The legal-time scenario, every instant worked out by hand on the 2025 calendar.

Tết 2025: Saturday 25/1 to Sunday 2/2 off (weekdays 27/1–31/1). Working hours 08:00–12:00 and
13:00–17:00; one working day is 480 working minutes.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from lienthong import Engine, FixedClock, NotAllowed, SlaError, Status
from lienthong.legaltime.clock import VN_TZ
from support import COMMUNE, DESK, LAND, receive_birth


def vn(*a: int) -> datetime:
    return datetime(*a, tzinfo=VN_TZ)  # type: ignore[misc]


def events(engine: Engine, code: str, *kinds: str) -> list[tuple[str, str, str | None]]:
    return [
        (r["event"], r["at"], r["to_officer"])
        for r in engine.audit_rows(code)
        if r["event"] in kinds
    ]


def test_khai_sinh_received_just_before_tet(engine: Engine, clock: FixedClock) -> None:
    clock.set(vn(2025, 1, 24, 16, 30))  # Friday, the last working afternoon before Tết
    d = engine.receive(
        "233448",
        applicant={"name": "Đỗ Minh Khánh"},
        receiving_unit=DESK,
        documents=["to_khai_lien_thong", "giay_chung_sinh"],
        channel=1,
        officer="tran.thi.mai",
    )
    # 30 minutes on Friday, then Mon 3/2 and Tue 4/2 in full (960), then 450 on Wed 5/2:
    # 08:00–12:00 (240) and 13:00–16:30 (210).
    assert d.appointment == vn(2025, 2, 5, 16, 30)

    clock.set(vn(2025, 1, 24, 16, 45))
    [reception] = engine.open_steps(unit=DESK)
    engine.complete(d.code, reception.id, "tran.thi.mai")
    [birth] = engine.open_steps(unit=COMMUNE)
    # Share 1 day from Fri 16:45: 15 minutes on Friday, 465 on Monday 3/2 → 16:45.
    assert birth.due_at == vn(2025, 2, 3, 16, 45)
    # A share under 2 days warns at half of it: 240 minutes in → Mon 3/2 11:45.
    assert birth.warn_at == vn(2025, 2, 3, 11, 45)

    # Nothing fires during Tết.
    assert engine.tick(vn(2025, 1, 31, 17, 0)).actions == ()

    report = engine.tick(vn(2025, 2, 3, 12, 0))
    assert [(a[1], a[0]) for a in report.actions] == [("warning", vn(2025, 2, 3, 11, 45))]

    # Left undone: at its due instant it goes to the head of the civil-status section...
    report = engine.tick(vn(2025, 2, 3, 17, 0))
    assert [(a[1], a[0]) for a in report.actions] == [("escalated", vn(2025, 2, 3, 16, 45))]
    assert [s.id for s in engine.open_steps(officer="trieu.thi.hanh")] == [birth.id]

    # The apology's legal latest instant is one working day before the appointment, Tue 4/2
    # 16:30; its reminder goes out half a working day before that: 210 minutes back to 13:00,
    # 30 more from 12:00 -> Tue 11:30.
    assert d.apology_required_at == vn(2025, 2, 4, 16, 30)
    assert d.apology_at == vn(2025, 2, 4, 11, 30)
    # ...one working day later the step goes to the head of the commune People's Committee;
    # that morning the reminder went to the unit at fault, whose step is overdue.
    report = engine.tick(vn(2025, 2, 4, 17, 0))
    assert [(a[1], a[0]) for a in report.actions] == [
        ("apology_required", vn(2025, 2, 4, 11, 30)),
        ("escalated", vn(2025, 2, 4, 16, 45)),
    ]
    assert events(engine, d.code, "apology_required") == [
        ("apology_required", "2025-02-04T11:30:00+07:00", "trieu.thi.hanh")
    ]
    assert [s.id for s in engine.open_steps(officer="ha.van.long")] == [birth.id]
    assert events(engine, d.code, "escalated") == [
        ("escalated", "2025-02-03T16:45:00+07:00", "trieu.thi.hanh"),
        ("escalated", "2025-02-04T16:45:00+07:00", "ha.van.long"),
    ]
    assert engine.tick(vn(2025, 2, 4, 17, 0)).actions == ()  # idempotent

    # The apology (Mẫu 04) from the unit at fault's head, once; at 17:00, after the latest
    # instant (16:30), it is accepted and recorded as late.
    clock.set(vn(2025, 2, 4, 17, 0))
    with pytest.raises(NotAllowed, match=r"tran\.thi\.mai"):
        engine.apologise(
            d.code, officer="tran.thi.mai", reason="x", new_appointment=vn(2025, 2, 7, 16, 30)
        )
    d = engine.apologise(
        d.code,
        officer="trieu.thi.hanh",
        reason="Cần xác minh thông tin khai sinh",
        new_appointment=vn(2025, 2, 7, 16, 30),
    )
    assert d.appointment == vn(2025, 2, 7, 16, 30)
    assert d.original_appointment == vn(2025, 2, 5, 16, 30)
    assert d.legal_appointment == vn(2025, 2, 5, 16, 30)  # the fact the apology does not move
    assert (d.apology_unit, d.apology_by, d.apology_late) == (COMMUNE, "trieu.thi.hanh", True)
    assert d.apology_required_at == vn(2025, 2, 4, 16, 30)
    with pytest.raises(SlaError, match="only once"):
        engine.apologise(
            d.code,
            officer="trieu.thi.hanh",
            reason="lần hai",
            new_appointment=vn(2025, 2, 10, 16, 30),
        )

    # A supplement request within 3 working days of the commune receiving it:
    # Fri 16:45 → Wed 5/2 09:00 is 15 + 480 + 480 + 60 = 1035 working minutes.
    clock.set(vn(2025, 2, 5, 9, 0))
    d = engine.request_supplement(
        d.code,
        officer="trieu.thi.hanh",
        missing=["giay_chung_sinh"],
        reason="Giấy chứng sinh không rõ tên người mẹ",
    )
    assert d.status == Status.SUPPLEMENT_REQUESTED
    assert engine.tick(vn(2025, 2, 7, 17, 0)).actions == ()  # paused: nothing fires
    with pytest.raises(SlaError, match="already asked"):
        clock.set(vn(2025, 2, 5, 9, 30))
        engine.receive_supplement(d.code)
        engine.request_supplement(d.code, officer="trieu.thi.hanh", missing=["x"], reason="y")


def test_supplement_restarts_the_deadline(engine: Engine, clock: FixedClock) -> None:
    clock.set(vn(2025, 1, 24, 16, 30))
    d = receive_birth(engine, "A")
    [reception] = engine.open_steps(unit=DESK)
    clock.set(vn(2025, 1, 24, 16, 45))
    engine.complete(d.code, reception.id, "tran.thi.mai")
    clock.set(vn(2025, 2, 3, 9, 0))
    engine.request_supplement(
        d.code, officer="trieu.thi.hanh", missing=["giay_chung_sinh"], reason="thiếu"
    )
    clock.set(vn(2025, 2, 10, 10, 0))  # Monday
    d = engine.receive_supplement(d.code, officer="tran.thi.mai")
    assert d.status == Status.PROCESSING
    # The legal deadline restarts in full: 3 working days from Mon 10:00 → Thu 13/2 10:00.
    assert d.appointment == vn(2025, 2, 13, 10, 0)
    [birth] = engine.open_steps(unit=COMMUNE)
    assert birth.due_at == vn(2025, 2, 11, 10, 0)  # its whole share again
    assert birth.escalation_level == 0
    # The KPI clock counts the wait: Mon 3/2 09:00 → Mon 10/2 10:00 is 5 × 480 + 60.
    assert d.kpi_waiting_minutes == 2460
    # With no supplement 15 days after a request, the desk closes the dossier.
    clock.set(vn(2025, 2, 11, 9, 0))
    with pytest.raises(SlaError):
        engine.request_supplement(d.code, officer="trieu.thi.hanh", missing=["x"], reason="y")


def test_no_supplement_in_15_days_closes_the_dossier(engine: Engine, clock: FixedClock) -> None:
    d = receive_birth(engine, "A")
    [reception] = engine.open_steps(unit=DESK)
    engine.complete(d.code, reception.id, "tran.thi.mai")
    engine.request_supplement(
        d.code, officer="trieu.thi.hanh", missing=["giay_chung_sinh"], reason="thiếu"
    )
    report = engine.tick(vn(2025, 3, 18, 9, 0))  # requested Mon 3/3 09:00, + 15 days
    assert [(a[1], a[0]) for a in report.actions] == [("supplement_expired", vn(2025, 3, 18, 9, 0))]
    assert engine.dossier(d.code).status == Status.STOPPED


def test_supplement_only_within_three_working_days(engine: Engine, clock: FixedClock) -> None:
    d = receive_birth(engine, "A")
    [reception] = engine.open_steps(unit=DESK)
    engine.complete(d.code, reception.id, "tran.thi.mai")  # commune receives Mon 3/3 09:00
    clock.set(vn(2025, 3, 6, 9, 1))  # 3 working days and a minute later
    with pytest.raises(SlaError, match="within 1440"):
        engine.request_supplement(d.code, officer="trieu.thi.hanh", missing=["x"], reason="y")


def test_financial_obligation_pause_shifts_every_due_instant(
    engine: Engine, clock: FixedClock
) -> None:
    docs = ["don_dang_ky_bien_dong", "hop_dong_chuyen_nhuong", "giay_chung_nhan"]
    proc = engine.procedure("1.013831")
    clock.set(vn(2025, 3, 3, 8, 0))  # Monday
    d = engine.receive(
        "1.013831",
        applicant={"name": "Hồ Văn Nam"},
        receiving_unit=DESK,
        documents=list(proc.required_documents) or docs,
    )
    # 8 working days from Mon 3/3 08:00 → Wed 12/3 17:00.
    assert d.appointment == vn(2025, 3, 12, 17, 0)
    [reception] = engine.open_steps(unit=DESK)
    clock.set(vn(2025, 3, 3, 9, 0))
    engine.complete(d.code, reception.id, "tran.thi.mai")
    [review] = engine.open_steps(dossier=d.code)
    # 4.5 days from Mon 09:00: 420 Mon, 480 Tue–Thu, 300 Fri → Fri 7/3 14:00.
    assert review.due_at == vn(2025, 3, 7, 14, 0)
    clock.set(vn(2025, 3, 4, 10, 0))
    engine.complete(d.code, review.id, engine.org.members(review.unit)[0].id)
    [tax] = engine.open_steps(dossier=d.code)
    assert tax.due_at == vn(2025, 3, 12, 17, 0)  # no share: due with the dossier

    clock.set(vn(2025, 3, 4, 11, 0))
    d = engine.start_obligation(
        d.code,
        officer=engine.org.members(tax.unit)[0].id,
        note="Thông báo nộp thuế thu nhập cá nhân, lệ phí trước bạ",
    )
    assert d.status == Status.FINANCIAL_OBLIGATION
    assert engine.tick(vn(2025, 3, 20, 17, 0)).actions == ()  # paused: nothing fires
    clock.set(vn(2025, 3, 6, 11, 0))  # paid two working days later: 960 working minutes
    d = engine.end_obligation(d.code)
    assert d.status == Status.PROCESSING
    assert d.paused_minutes == 960
    assert d.appointment == vn(2025, 3, 14, 17, 0)
    [tax] = engine.open_steps(dossier=d.code)
    assert tax.due_at == vn(2025, 3, 14, 17, 0)
    assert [
        r["event"] for r in engine.audit_rows(d.code) if r["event"].startswith("obligation")
    ] == ["obligation_started", "obligation_ended"]
    sheet = engine.control_sheet(d.code).render()
    assert "tạm dừng 960 phút làm việc" in sheet


def test_a_sector_sets_its_own_supplement_window(make_engine, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    """The land procedure's quy chế gives 2 working days (Art 3(4)(a)): its BPMN says so."""
    engine = make_engine()
    data = LAND.read_bytes().replace(
        b'<spiffworkflow:property name="lienthong:deadline" value="8d"',
        b'<spiffworkflow:property name="lienthong:supplement-window" value="2d" />'
        b'<spiffworkflow:property name="lienthong:deadline" value="8d"')
    proc = engine.load_procedure(data, name="land-2d.bpmn")
    assert proc.supplement_window_minutes == 960
    d = engine.receive("1.013831", applicant={"name": "A"}, receiving_unit=DESK,
                       documents=list(proc.required_documents))
    [reception] = engine.open_steps(unit=DESK)
    engine.complete(d.code, reception.id, "tran.thi.mai")   # the land office gets it at 09:00
    [review] = engine.open_steps(dossier=d.code)
    officer = engine.org.members(review.unit)[0].id
    clock.set(vn(2025, 3, 5, 9, 1))                          # 2 working days and a minute
    with pytest.raises(SlaError, match="within 960"):
        engine.request_supplement(d.code, officer=officer, missing=["x"], reason="y")
    clock.set(vn(2025, 3, 5, 9, 0))
    assert engine.request_supplement(d.code, officer=officer, missing=["x"],
                                     reason="y").status == Status.SUPPLEMENT_REQUESTED
