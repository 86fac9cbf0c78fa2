"""The notifications plugin through lienthong's public API: Engine, FixedClock, demo org."""

from __future__ import annotations

import email
import unicodedata
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header

import lienthong_notifications as notifications
import pytest
from lienthong_notifications.__main__ import main as deliver_main

from lienthong import PluginError, Status, hookimpl


def kinds(engine, code):
    return [m["kind"] for m in notifications.messages(engine.db, code)]


def test_format_instant_is_the_forms_format_in_vietnam_time():
    t = datetime(2025, 3, 3, 2, 5, tzinfo=UTC)
    assert notifications.format_instant(t) == "09 giờ 05 phút, ngày 03/03/2025"
    with pytest.raises(ValueError, match="naive"):
        notifications.format_instant(datetime(2025, 3, 3, 9, 5))


def test_a_direct_dossier_gets_a_receipt_then_result_ready(make_engine, run):
    engine = make_engine(notifications)
    code = run(engine)
    assert engine.dossier(code).status == Status.RETURNED
    assert kinds(engine, code) == ["receipt", "result_ready"]

    receipt, ready = notifications.messages(engine.db, code)
    d = engine.dossier(code)
    assert receipt["subject"] == f"Giấy tiếp nhận hồ sơ và hẹn trả kết quả – mã hồ sơ {code}"
    assert receipt["body"].startswith("Kính gửi Ông/Bà Nguyễn Văn An,\n")
    assert "Thời gian nhận hồ sơ: 09 giờ 00 phút, ngày 03/03/2025" in receipt["body"]
    assert (f"Thời gian hẹn trả kết quả: {notifications.format_instant(d.appointment)}"
            in receipt["body"])
    assert "Thủ tục: Liên thông đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế" \
        in receipt["body"]
    assert receipt["recipient_email"] == "nguyen.van.an@example.com"
    assert receipt["created_at"] == "2025-03-03T09:00:00+07:00"
    # "Result ready" is written when the dossier reaches its return step (status 9), before
    # the return itself.
    return_step = next(s for s in engine.steps(code) if s.step_kind == "return")
    assert ready["created_at"] == return_step.opened_at.isoformat()
    assert "Mời Ông/Bà nhận kết quả tại Bộ phận Tiếp nhận và Trả kết quả" in ready["body"]
    for m in (receipt, ready):
        assert unicodedata.is_normalized("NFC", m["subject"] + m["body"])
        assert m["delivered_at"] is None


def test_an_online_dossier_is_acknowledged_then_receipted_on_acceptance(make_engine, run, clock):
    engine = make_engine(notifications)
    code = run(engine, channel=2, until="register_birth")
    assert kinds(engine, code) == ["acknowledgement", "receipt"]
    ack, receipt = notifications.messages(engine.db, code)
    assert "trong thời hạn 08 giờ làm việc" in ack["body"]
    d = engine.dossier(code)
    assert d.appointment is not None
    assert notifications.format_instant(d.appointment) in receipt["body"]
    assert receipt["created_at"] == d.received_at.isoformat()


def test_supplement_request_and_apology(make_engine, run, clock):
    engine = make_engine(notifications)
    code = run(engine, until="register_residence")
    asked = clock.advance(minutes=10)
    engine.request_supplement(code, officer="nong.van.binh", missing=["giay_chung_sinh"],
                              reason="Bản chụp Giấy chứng sinh bị mờ, không đọc được số.")
    clock.advance(hours=2)
    d = engine.receive_supplement(code, officer="do.quang.vinh", documents=["giay_chung_sinh"])
    missed = d.appointment  # the legal deadline restarted: not the original appointment
    assert missed != d.original_appointment
    new = engine.calendar.add(missed, days=2)
    engine.apologise(code, officer="vi.van.manh", new_appointment=new,
                     reason="Hệ thống cơ sở dữ liệu về cư trú bị gián đoạn.")

    assert kinds(engine, code) == ["receipt", "supplement_request", "apology"]
    _, supplement, apology = notifications.messages(engine.db, code)
    assert supplement["subject"] == f"Yêu cầu bổ sung, hoàn thiện hồ sơ – mã hồ sơ {code}"
    assert "  - giay_chung_sinh\n" in supplement["body"]
    assert "Lý do: Bản chụp Giấy chứng sinh bị mờ" in supplement["body"]
    assert "được tính lại từ đầu" in supplement["body"]
    assert supplement["created_at"] == asked.isoformat()
    assert apology["subject"] == f"Thư xin lỗi và hẹn lại ngày trả kết quả – mã hồ sơ {code}"
    assert f"hẹn trả kết quả lúc {notifications.format_instant(missed)}" in apology["body"]
    assert apology["created_at"] == clock.now().isoformat()
    assert f"thời gian trả kết quả: {notifications.format_instant(new)}." in apology["body"]
    assert "Lý do: Hệ thống cơ sở dữ liệu về cư trú bị gián đoạn." in apology["body"]
    assert "Người ký: vi.van.manh" in apology["body"]


def test_supplement_documents_may_be_named(make_engine, run):
    engine = make_engine(notifications)
    code = run(engine, until="register_residence")
    with engine.store.transaction() as db:
        engine.pm.hook.supplement_requested(
            dossier=engine.dossier(code), db=db,
            request={"documents": [{"code": "giay_chung_sinh", "name": "Giấy chứng sinh"}],
                     "reason": "Thiếu bản chính."})
    body = notifications.messages(engine.db, code)[-1]["body"]
    assert "  - Giấy chứng sinh\n" in body


class BreaksAfterNotifications:
    """Fails the reception command after the notifications plugin wrote its receipt."""

    __name__ = "breaks-after"

    @hookimpl(trylast=True)
    def dossier_received(self):
        raise RuntimeError("the national portal refused the sync")


def test_a_rolled_back_command_leaves_no_message(make_engine, run, tmp_path):
    engine = make_engine(notifications, BreaksAfterNotifications())
    with pytest.raises(PluginError, match="'breaks-after' failed in hook 'dossier_received'"):
        run(engine)
    assert engine.dossiers() == []
    assert notifications.messages(engine.db) == []
    assert notifications.deliver(engine.db, tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []


def test_deliver_writes_utf8_eml_files_once(make_engine, run, clock, tmp_path):
    engine = make_engine(notifications)
    code = run(engine)
    clock.advance(hours=1)
    files = notifications.deliver(engine.db, tmp_path / "out", clock=clock)
    assert [f.name for f in files] == [f"000001-receipt-{code}.eml",
                                       f"000002-result_ready-{code}.eml"]
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["Subject"] == f"Giấy tiếp nhận hồ sơ và hẹn trả kết quả – mã hồ sơ {code}"
    assert msg["To"] == "Nguyễn Văn An <nguyen.van.an@example.com>"
    # RFC 2047 encoded words, folded; decode_header joins them (the address parser of
    # policy.default inserts a space at the fold, a Python bug, so it is not used here).
    raw_from = email.message_from_bytes(files[0].read_bytes(), policy=policy.compat32)["From"]
    assert str(make_header(decode_header(raw_from))) == (
        "Bộ phận Tiếp nhận và Trả kết quả <mot-cua@lienthong.invalid>")
    assert msg["X-Lienthong-Dossier"] == code
    assert msg.get_content_charset() == "utf-8"
    assert "Kính gửi Ông/Bà Nguyễn Văn An," in msg.get_content()
    rows = notifications.messages(engine.db, code)
    assert {r["delivered_at"] for r in rows} == {clock.now().isoformat()}
    assert [r["file"] for r in rows] == [f.name for f in files]
    assert notifications.deliver(engine.db, tmp_path / "out", clock=clock) == []


def test_deliver_from_the_command_line(make_engine, run, tmp_path, capsys):
    engine = make_engine(notifications, db=str(tmp_path / "ls.db"))
    run(engine)
    assert deliver_main([str(tmp_path / "ls.db"), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 2 and all(p.endswith(".eml") for p in printed)
    assert all(m["delivered_at"] for m in notifications.messages(engine.db))


def test_no_email_address_still_makes_a_message(make_engine, run, tmp_path):
    engine = make_engine(notifications)
    run(engine, applicant={"name": "Lò Thị Xuân"})
    (path, _) = notifications.deliver(engine.db, tmp_path, sender="Trung tâm <tt@example.org>")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["To"] is None
    assert msg["From"] == "Trung tâm <tt@example.org>"
    assert "Kính gửi Ông/Bà Lò Thị Xuân," in msg.get_content()
