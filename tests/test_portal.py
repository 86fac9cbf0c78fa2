"""The national portal's payload (docs/portal.md): a dossier's DongBoHoSoMC record and progress
records, built from the store, offered to plugins through ``portal_record_changed`` after the
command that changed them has committed — at every stage of one dossier's life, with the
portal's instants and status codes; a plugin's failure never fails the command."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from lienthong import DossierNotFound, FixedClock, PluginError, hookimpl, portal
from lienthong.engine import context
from lienthong.portal import facts
from lienthong.testing import make_test_engine
from support import ARCHIVE, DESK, KHAI_SINH, FakeAgencies, vn

DATE = re.compile(r"^\d{14}$")
COMMUNE_HEAD = "trieu.thi.hanh"  # Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu, no deputy
DESK_OFFICER = "do.quang.vinh"
STEP_DATA = {
    "register_birth": {"birth_certificate_no": "15/2025"},
    "register_residence": {"residence_registration_no": "TT-2025-0015"},
}


def pd(t: Any) -> str | None:
    """An instant as the portal writes it, computed here without lienthong's helper."""
    return None if t is None else t.strftime("%Y%m%d%H%M%S")


class Recorder:
    """Keeps what the hook receives, and checks from another connection that it was
    committed (a file store: another connection sees only committed data)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.calls: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.committed: list[bool] = []

    @hookimpl
    def portal_record_changed(self, record: dict, progress: list, db: Any) -> None:
        self.calls.append((record, progress))
        if self.path is not None:
            other = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                row = other.execute(
                    "SELECT status, appointment FROM dossiers WHERE code = ?", [record["MaHoSo"]]
                ).fetchone()
            finally:
                other.close()
            self.committed.append(
                row is not None
                and str(row[0]) == record["TrangThaiHoSo"]
                and db.conn.in_transaction
            )

    @property
    def last(self) -> dict[str, Any]:
        return self.calls[-1][0]


def work(engine: Any, clock: FixedClock, code: str, until: str | None = None) -> None:
    while not engine.dossier(code).is_closed:
        open_user = [s for s in engine.open_steps(dossier=code) if s.kind == "user"]
        if not open_user or open_user[0].spec_id == until:
            return
        step = open_user[0]
        clock.advance(minutes=30)
        officer = engine.org.members(step.unit)[0].id
        engine.complete(code, step.id, officer, STEP_DATA.get(step.spec_id, {}))


def receive(engine: Any, **kw: Any) -> str:
    return engine.receive(
        "233448",
        applicant={"name": "Nguyễn Thị Lan", "phone": "0912345678", "email": "lan@example.vn"},
        receiving_unit=DESK,
        documents=["to_khai_lien_thong", "giay_chung_sinh"],
        **kw,
    ).code


# -- one dossier's whole life ---------------------------------------------------------------------
def test_the_hook_gets_the_record_at_every_stage_of_a_dossiers_life(tmp_path: Path) -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    path = tmp_path / "portal.db"
    rec = Recorder(path)
    engine = make_test_engine(FakeAgencies(), rec, clock=clock, processes=[KHAI_SINH], db=path)
    code = receive(engine)
    first = engine.dossier(code).appointment
    # Received: status 2, the appointment of Mẫu 01, one progress record.
    r = rec.last
    assert (r["MaHoSo"], r["MaTTHC"], r["TrangThaiHoSo"], r["KenhThucHien"]) == (
        code,
        "233448",
        "2",
        "1",
    )
    assert r["NgayTiepNhan"] == r["NgayNopHoSo"] == "20250303090000"
    assert r["NgayHenTra"] == pd(first)
    assert (r["ChuHoSo"], r["SoDienThoai"], r["Email"]) == (
        "Nguyễn Thị Lan",
        "0912345678",
        "lan@example.vn",
    )
    assert [d["MaThanhPhanHoSo"] for d in r["TaiLieuNop"]] == [
        "to_khai_lien_thong",
        "giay_chung_sinh",
    ]
    assert r["DanhSachHoSoBoSung"] == [] and r["DanhSachGiaHan"] == []
    assert [p["TrangThai"] for p in rec.calls[-1][1]] == ["2"]

    # Supplement requested by the commune: status 5, an open request.
    work(engine, clock, code, until="register_birth")
    assert rec.last["TrangThaiHoSo"] == "4"
    clock.advance(minutes=30)
    asked = clock.now()
    engine.request_supplement(
        code, officer=COMMUNE_HEAD, missing=["giay_chung_sinh"], reason="Bản chụp bị mờ."
    )
    r, progress = rec.calls[-1]
    assert r["TrangThaiHoSo"] == "5"
    [s] = r["DanhSachHoSoBoSung"]
    assert s["NguoiYeuCauBoSung"] == "Triệu Thị Hạnh"
    assert "Bản chụp bị mờ." in s["NoiDungBoSung"] and "giay_chung_sinh" in s["NoiDungBoSung"]
    assert (s["NgayBoSung"], s["TrangThaiBoSung"], s["NgayHenTraTruoc"]) == (
        pd(asked),
        "0",
        pd(first),
    )
    assert s["NgayTiepNhanBoSung"] is None and s["NgayHenTraMoi"] is None
    assert progress[-1]["TrangThai"] == "5" and progress[-1]["NguoiXuLy"] == "Triệu Thị Hạnh"
    assert progress[-1]["PhongBanXuLy"] == "Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu"

    # Supplement received a day later: status 4, the deadline restarted, the request closed.
    arrived = clock.advance(days=1)
    engine.receive_supplement(code, officer=DESK_OFFICER, documents=["giay_chung_sinh"])
    restarted = engine.dossier(code).appointment
    assert restarted == engine.calendar.add(arrived, days=3)
    r = rec.last
    assert (r["TrangThaiHoSo"], r["NgayHenTra"]) == ("4", pd(restarted))
    [s] = r["DanhSachHoSoBoSung"]
    assert (s["TrangThaiBoSung"], s["NgayTiepNhanBoSung"], s["NgayHenTraMoi"]) == (
        "1",
        pd(arrived),
        pd(restarted),
    )
    assert s["NguoiTiepNhanBoSung"] == engine.org.officer(DESK_OFFICER).name

    # The apology with a new appointment (Mẫu 04): NgayHenTra is the new date.
    clock.advance(minutes=30)
    new = restarted + timedelta(days=2)
    engine.apologise(code, officer=COMMUNE_HEAD, reason="Chờ xác minh.", new_appointment=new)
    r, progress = rec.calls[-1]
    assert (r["TrangThaiHoSo"], r["NgayHenTra"]) == ("4", pd(new))
    [x] = r["DanhSachGiaHan"]
    assert (x["NgayHenTraTruoc"], x["NgayHenTraMoi"], x["NgayGiaHan"]) == (
        pd(restarted),
        pd(new),
        pd(clock.now()),
    )
    assert (x["NguoiGiaHan"], x["NoiDungGiaHan"], x["GiaHanMuon"]) == (
        "Triệu Thị Hạnh",
        "Chờ xác minh.",
        "0",
    )
    assert progress[-1]["NgayKetThucTheoQuyDinh"] == pd(new)

    # To the end: status 9 when the result is ready, 10 once returned.
    work(engine, clock, code)
    d = engine.dossier(code)
    statuses = [c[0]["TrangThaiHoSo"] for c in rec.calls]
    assert statuses[-2:] == ["9", "10"]
    r, progress = rec.calls[-1]
    assert (r["NgayTra"], r["NgayKetThucXuLy"]) == (pd(d.closed_at), pd(d.resolved_at))
    assert r["NgayHenTra"] == pd(new)
    assert [p["TrangThai"] for p in progress][-2:] == ["9", "10"]
    # Every call came after its command had committed, inside the hook's own transaction.
    assert rec.committed and all(rec.committed)
    # What the plugin got last is what the store holds; a read-only file gives it too.
    engine.close()
    assert portal.portal_record(path, code) == r
    assert portal.progress_records(path, code) == progress


def test_every_date_is_in_the_portals_format_and_every_status_a_portal_code() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()
    engine = make_test_engine(FakeAgencies(), rec, clock=clock, processes=[KHAI_SINH])
    work(engine, clock, receive(engine))
    for record, progress in rec.calls:
        check_shape(record, progress)


def check_shape(record: dict[str, Any], progress: list[dict[str, Any]]) -> None:
    """Every field there, the portal's dates and codes, the unknown ones None."""
    assert list(record) == list(portal.RECORD_FIELDS)
    assert record["TrangThaiHoSo"] in {str(n) for n in range(1, 11)}
    assert record["KenhThucHien"] in ("1", "2", "3")
    for key in portal.UNKNOWN:
        assert record[key] is None, key
    for key in ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy"):
        assert record[key] is None or DATE.match(record[key]), (key, record[key])
    for s in record["DanhSachHoSoBoSung"]:
        assert list(s) == list(portal.SUPPLEMENT_FIELDS)
        for key in ("NgayBoSung", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi"):
            assert s[key] is None or DATE.match(s[key]), (key, s[key])
    for x in record["DanhSachGiaHan"]:
        assert list(x) == list(portal.EXTENSION_FIELDS)
        assert DATE.match(x["NgayHenTraMoi"]) and DATE.match(x["NgayGiaHan"])
    for p in progress:
        assert list(p) == list(portal.PROGRESS_FIELDS)
        assert p["MaHoSo"] == record["MaHoSo"]
        assert p["TrangThai"] in {str(n) for n in range(1, 11)}
        assert DATE.match(p["ThoiDiemXuLy"]) and DATE.match(p["NgayBatDau"])
        assert p["NgayKetThucTheoQuyDinh"] is None or DATE.match(p["NgayKetThucTheoQuyDinh"])
    if progress:
        assert progress[-1]["TrangThai"] == record["TrangThaiHoSo"]


# -- the other ends -------------------------------------------------------------------------------
def test_an_online_dossier_is_new_without_an_appointment_and_a_refusal_is_3() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()
    engine = make_test_engine(FakeAgencies(), rec, clock=clock, processes=[KHAI_SINH])
    code = receive(engine, channel=2)
    r = rec.last
    assert (r["TrangThaiHoSo"], r["KenhThucHien"], r["NgayHenTra"], r["NgayTiepNhan"]) == (
        "1",
        "2",
        None,
        None,
    )
    [step] = engine.open_steps(dossier=code)
    clock.advance(minutes=10)
    engine.complete(code, step.id, DESK_OFFICER, {"accepted": False, "reason": "Sai thủ tục."})
    r, progress = rec.calls[-1]
    assert r["TrangThaiHoSo"] == "3" and [p["TrangThai"] for p in progress] == ["1", "3"]
    assert "Sai thủ tục." in progress[-1]["NoiDungXuLy"]
    check_shape(r, progress)


def test_withdrawal_is_7_and_an_expired_supplement_stops_the_dossier_8_from_a_tick() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()
    engine = make_test_engine(FakeAgencies(), rec, clock=clock, processes=[KHAI_SINH])
    one = receive(engine)
    engine.withdraw(one, reason="Gia đình xin rút hồ sơ.")
    assert rec.last["TrangThaiHoSo"] == "7"
    assert rec.calls[-1][1][-1]["NoiDungXuLy"].startswith("Người nộp hồ sơ rút hồ sơ")
    two = receive(engine)
    work(engine, clock, two, until="register_birth")
    engine.request_supplement(two, officer=COMMUNE_HEAD, missing=["x"], reason="Thiếu giấy tờ.")
    n = len(rec.calls)
    engine.tick(clock.advance(days=16))
    assert len(rec.calls) == n + 1
    r, progress = rec.calls[-1]
    assert (r["MaHoSo"], r["TrangThaiHoSo"]) == (two, "8")
    assert r["NgayKetThucXuLy"] == pd(engine.dossier(two).closed_at)
    assert r["DanhSachHoSoBoSung"][0]["TrangThaiBoSung"] == "0"
    check_shape(r, progress)


def test_a_command_that_changes_nothing_or_fails_calls_nothing() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()

    class Strict:
        @hookimpl
        def supplement_requested(self) -> None:
            raise RuntimeError("no supplements today")

    engine = make_test_engine(FakeAgencies(), rec, Strict(), clock=clock, processes=[KHAI_SINH])
    code = receive(engine)
    work(engine, clock, code, until="register_birth")
    n = len(rec.calls)
    [step] = engine.open_steps(dossier=code)
    engine.claim(code, step.id, COMMUNE_HEAD)  # a claim hands nothing on
    engine.tick(clock.advance(hours=1))  # nothing falls due
    with pytest.raises(PluginError):  # rolled back: nothing changed, nothing to send
        engine.request_supplement(code, officer=COMMUNE_HEAD, missing=["x"], reason="Thiếu.")
    assert len(rec.calls) == n
    assert engine.dossier(code).status == 4


# -- a plugin's failure ---------------------------------------------------------------------------
def test_a_failing_plugin_is_logged_and_audited_and_fails_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()

    class Outbox:
        @hookimpl
        def portal_record_changed(self, record: dict, db: Any) -> None:
            db["outbox"].insert({"code": record["MaHoSo"], "status": record["TrangThaiHoSo"]})

    class Broken:
        @hookimpl
        def portal_record_changed(self, record: dict, db: Any) -> None:
            db["broken_outbox"].insert({"code": record["MaHoSo"]})
            raise ConnectionError("cổng DVCQG không trả lời")

    engine = make_test_engine(
        FakeAgencies(),
        Outbox(),
        Broken(),
        rec,
        clock=clock,
        processes=[KHAI_SINH],
        db=tmp_path / "f.db",
    )
    with caplog.at_level(logging.WARNING, logger="lienthong.portal"):
        code = receive(engine)
    assert engine.dossier(code).status == 2  # the command stood
    assert [r["status"] for r in engine.db["outbox"].rows] == ["2"]
    assert not engine.db["broken_outbox"].exists() or engine.db["broken_outbox"].count == 0
    assert len(rec.calls) == 1  # the plugin after the broken one was still called
    [row] = [r for r in engine.audit_rows(code) if r["event"] == "portal_hook_failed"]
    assert "Broken" in row["note"] and "ConnectionError" in row["note"]
    assert any("cổng DVCQG không trả lời" in m for m in caplog.messages)
    assert engine.verify_audit().ok
    # The failure's audit row, written after the command, vouches for the dossier's rows too.
    assert engine.verify_audit(deep=True).ok
    engine.db.execute("UPDATE dossiers SET status = 9 WHERE code = ?", [code])
    assert not engine.verify_audit(deep=True).ok
    engine.close()


def test_each_plugin_gets_its_own_copy() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()

    class Vandal:
        @hookimpl(tryfirst=True)
        def portal_record_changed(self, record: dict, progress: list) -> None:
            record["TrangThaiHoSo"] = "99"
            progress.clear()

    engine = make_test_engine(FakeAgencies(), rec, Vandal(), clock=clock, processes=[KHAI_SINH])
    receive(engine)
    assert rec.last["TrangThaiHoSo"] == "2" and rec.calls[-1][1]


# -- reading it -----------------------------------------------------------------------------------
def test_the_record_from_a_path_and_an_unknown_dossier(tmp_path: Path) -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    path = tmp_path / "a.db"
    engine = make_test_engine(clock=clock, processes=[ARCHIVE], db=path)
    code = engine.receive(
        "1.013932",
        applicant={"name": "Lê Văn Tư", "subject_type": 1},
        receiving_unit=DESK,
        documents=list(engine.procedure("1.013932").required_documents),
    ).code
    assert portal.portal_record(engine, code) == portal.portal_record(path, code)
    record = portal.portal_record(engine, code)
    assert record["LoaiDoiTuong"] == "1"
    assert record["DonViXuLy"] and record["TenTTHC"]
    with pytest.raises(DossierNotFound):
        portal.portal_record(engine, "000.00.01.H29-250303-9999")
    engine.close()


def test_the_portal_date_is_vietnamese_time_to_the_second() -> None:
    from datetime import datetime

    t = datetime(2025, 3, 3, 2, 0, 5, tzinfo=UTC)
    assert portal.portal_date(t) == "20250303090005"
    assert portal.portal_date(t.isoformat()) == "20250303090005"
    assert portal.from_portal_date("20250303090005") == t
    assert portal.portal_date(None) is None
    with pytest.raises(ValueError):
        portal.portal_date(datetime(2025, 3, 3, 9, 0))
    with pytest.raises(ValueError):
        portal.from_portal_date("2025-03-03")


def test_the_portal_names_the_applicant_as_the_engine_writes_it() -> None:
    assert facts.APPLICANT == context.APPLICANT


def test_a_tick_action_undone_alone_is_not_sent_and_the_committed_ones_are() -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    rec = Recorder()
    doomed: set[str] = set()

    class FailsOne:
        @hookimpl
        def audit_event(self, row: dict) -> None:
            if row["event"] == "supplement_expired" and row["dossier"] in doomed:
                raise RuntimeError("this one fails")

    engine = make_test_engine(FakeAgencies(), rec, FailsOne(), clock=clock, processes=[KHAI_SINH])
    codes = []
    for _ in range(2):
        code = receive(engine)
        work(engine, clock, code, until="register_birth")
        engine.request_supplement(code, officer=COMMUNE_HEAD, missing=["x"], reason="Thiếu.")
        codes.append(code)
    first, second = codes
    doomed.add(second)
    n = len(rec.calls)
    with pytest.raises(PluginError):
        engine.tick(clock.advance(days=16))
    # The first expiry committed and was sent; the second was undone, and so was its mark.
    assert [(c[0]["MaHoSo"], c[0]["TrangThaiHoSo"]) for c in rec.calls[n:]] == [(first, "8")]
    assert engine.dossier(second).status == 5
