"""The same-day sample procedure (xóa ghi nợ tiền sử dụng đất, Đồng Tháp QĐ 138/2025 Điều 34):
received before 15:00 on a working day, due at that day's close; at or after 15:00, or on a day
off, due at the close of the next working day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from lienthong import FixedClock, ResultClass, Status
from lienthong.testing import boundary_instants, make_test_engine, run_dossier
from support import DESK, PROCESSES, vn

CODE = "DTP-QD138-D34"
FILE = PROCESSES / "xoa-ghi-no-tien-su-dung-dat.bpmn"
DOCUMENTS = ["don_de_nghi_xoa_no", "giay_chung_nhan", "chung_tu_nop_tien"]


def receive_at(t: datetime):
    clock = FixedClock(t)
    engine = make_test_engine(clock=clock, processes=[FILE])
    d = engine.receive(
        CODE, applicant={"name": "Trần Văn Bảy"}, receiving_unit=DESK, documents=DOCUMENTS
    )
    return engine, clock, d


def test_the_file_is_a_same_day_procedure_of_one_working_day_of_shares() -> None:
    engine = make_test_engine(clock=FixedClock(vn(2025, 3, 6, 9, 0)), processes=[FILE])
    proc = engine.procedure(CODE)
    assert proc.same_day and proc.deadline_text == "same-day"
    assert [(s.id, s.role, s.share_minutes) for s in proc.steps.values()] == [
        ("reception", "one-stop-desk", 240),
        ("update_records", "land-registration-office", 240),
        ("return_result", "one-stop-desk", 0),
    ]
    engine.close()


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (vn(2025, 3, 6, 14, 59), vn(2025, 3, 6, 17)),  # Thursday before 15:00: that day
        (vn(2025, 3, 6, 15, 0), vn(2025, 3, 7, 17)),  # at 15:00: the next working day
        (vn(2025, 3, 7, 16, 0), vn(2025, 3, 10, 17)),  # Friday afternoon: Monday
        (vn(2025, 1, 24, 10, 0), vn(2025, 1, 24, 17)),  # the last morning before Tết
        (vn(2025, 1, 24, 15, 30), vn(2025, 2, 3, 17)),  # ... its afternoon: after Tết
    ],
)
def test_the_appointment_follows_the_cut_off(received: datetime, due: datetime) -> None:
    engine, _clock, d = receive_at(received)
    assert d.appointment == due
    engine.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boundary_instants(years=(2025, 2026)))
def test_received_before_the_cut_off_it_is_due_within_that_working_day(received: datetime) -> None:
    engine, _clock, d = receive_at(received)
    cal = engine.calendar
    assert d.appointment is not None and d.appointment.time() == time(17, 0)
    assert cal.is_working_day(d.appointment.date())
    if cal.is_working_day(received.date()) and received.time() < time(15, 0):
        assert d.appointment.date() == received.date()
        assert cal.between(received, d.appointment) <= cal.minutes_per_day
    else:
        assert d.appointment.date() > received.date()
        skipped = [
            x for x in _days_between(received.date(), d.appointment.date()) if cal.is_working_day(x)
        ]
        assert skipped == [], "due later than the next working day"
    engine.close()


def _days_between(first: date, last: date) -> list[date]:
    """The days after ``first`` and before ``last``."""
    return [first + timedelta(days=i) for i in range(1, (last - first).days)]


def test_a_dossier_received_at_opening_is_resolved_on_time_the_same_day() -> None:
    clock = FixedClock(vn(2025, 3, 6, 8, 0))
    engine = make_test_engine(clock=clock, processes=[FILE])
    code = run_dossier(
        engine,
        clock,
        CODE,
        minutes_per_step=90,
        step_data={"update_records": {"certificate_no": "CS-01"}},
    )
    done = engine.dossier(code)
    assert done.status == Status.RETURNED
    assert done.appointment == vn(2025, 3, 6, 17, 0)
    assert done.resolved_at is not None and done.resolved_at <= done.appointment
    # Resolved on the day it is due, so "on time" (đúng hạn), not "early" (trước hạn).
    assert done.result_class == ResultClass.ON_TIME
    engine.close()
