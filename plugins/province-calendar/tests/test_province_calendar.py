"""The province-calendar plugin through lienthong's public API: Engine, FixedClock, demo org."""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources

import lienthong_province_calendar as province

from lienthong import VN_TZ, Engine, FixedClock, Organisation, Overlay

DEMO_ORG = resources.files("lienthong") / "data" / "demo-org.toml"


def engine(*plugins: object, at: datetime) -> Engine:
    org = Organisation.from_file(str(DEMO_ORG))
    return Engine(":memory:", org=org, clock=FixedClock(at), plugins=plugins, entry_points=False)


def test_the_overlay_names_and_sources_every_day():
    ov = province.overlay()
    assert isinstance(ov, Overlay)
    assert [(d.day, d.day.weekday()) for d in ov.days_off] == [
        (date(2026, 3, 23), 0), (date(2026, 3, 24), 1)]
    assert [(d.day, d.day.weekday()) for d in ov.working_days] == [(date(2026, 3, 28), 5)]
    for d in (*ov.days_off, *ov.working_days):
        assert d.name and d.source
    assert "Ngày giải phóng Tỉnh Mẫu" in ov.days_off[1].name
    assert ov.periods is None  # working hours stay the default ones
    assert ov.origin == "lienthong_province_calendar:data/tinh-mau.toml"
    assert province.calendar_overlays() == [ov]


def test_the_engine_calendar_has_the_province_days():
    plain = engine(at=datetime(2026, 3, 20, 9, tzinfo=VN_TZ)).calendar
    cal = engine(province, at=datetime(2026, 3, 20, 9, tzinfo=VN_TZ)).calendar
    for day in (date(2026, 3, 23), date(2026, 3, 24)):
        assert plain.is_working_day(day) and not cal.is_working_day(day)
    assert not plain.is_working_day(date(2026, 3, 28))
    assert cal.is_working_day(date(2026, 3, 28))
    assert (date(2026, 3, 24), "Kỷ niệm 51 năm Ngày giải phóng Tỉnh Mẫu (24/3/1975 – 24/3/2026)") \
        in cal.days_off(2026)
    # The default overlay is still there underneath: Saturday 10/1/2026 is worked nationally.
    assert cal.is_working_day(date(2026, 1, 10))


def test_due_instants_skip_the_province_days_off():
    friday = datetime(2026, 3, 20, 9, 0, tzinfo=VN_TZ)
    plain = engine(at=friday).calendar
    cal = engine(province, at=friday).calendar
    # Two working days from Friday 09:00: Tuesday 09:00 nationally; in Tỉnh Mẫu, Monday and
    # Tuesday are off, Wednesday counts, so Thursday 09:00.
    assert plain.add(friday, days=2) == datetime(2026, 3, 24, 9, 0, tzinfo=VN_TZ)
    assert cal.add(friday, days=2) == datetime(2026, 3, 26, 9, 0, tzinfo=VN_TZ)
    # Five working days: the make-up Saturday counts.
    assert cal.add(friday, days=5) == datetime(2026, 3, 30, 9, 0, tzinfo=VN_TZ)
