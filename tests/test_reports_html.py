"""``lienthong report period|units --format html``: a self-contained page whose charts carry
their figures, and those figures are the reports' own (read back from each SVG's metadata and
compared with the report functions' records); the page opens in headless Chromium without a
console error, and its screenshot is a real picture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong import reports
from lienthong.cli import main
from lienthong.demo import run_demo
from lienthong.reports import charts
from lienthong.reports.html import report_page

FIRST, LAST = "2026-02-02", "2026-02-22"  # three whole weeks, Monday to Sunday


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("html") / "demo.db"
    result = run_demo(path, dossiers=40, weeks=3, out=lambda _line: None)
    result.engine.close()
    yield str(path)


def page(db: str, kind: str, *args: str, tmp: Path) -> tuple[Path, str]:
    out = tmp / f"{kind}.html"
    res = CliRunner().invoke(
        main, ["report", kind, "--db", db, "--format", "html", "--out", str(out), *args]
    )
    assert res.exit_code == 0, res.output
    return out, out.read_text(encoding="utf-8")


def rows_by_unit(rows: list[reports.UnitRow]) -> list[reports.UnitRow]:
    return [r for r in rows if r.early + r.on_time + r.late]


# -- the charts' numbers are the reports' numbers -------------------------------------------------
def test_the_period_pages_charts_are_the_reports_figures(db: str, tmp_path: Path) -> None:
    _, html = page(db, "period", "--from", FIRST, "--to", LAST, tmp=tmp_path)
    data = charts.chart_data(html)
    assert set(data) == {"period-results", "apologies", "on-time-by-unit", "late-per-week"}
    period = reports.Period.days(FIRST, LAST)

    figures = reports.period_report(db, period=period)
    shown = dict(
        zip(
            data["period-results"]["keys"],
            data["period-results"]["series"]["dossiers"],
            strict=True,
        )
    )
    assert shown == {
        "resolved_early": figures.resolved_early,
        "resolved_on_time": figures.resolved_on_time,
        "resolved_late": figures.resolved_late,
        "in_progress_on_time": figures.in_progress_on_time,
        "in_progress_overdue": figures.in_progress_overdue,
    }
    assert sum(shown.values()) > 0

    late = reports.apologies(db, period=period)
    issued, on_time, late_, missing = data["apologies"]["series"]["dossiers"]
    assert issued == sum(not a.missing for a in late) == on_time + late_
    assert late_ == sum(a.late and not a.missing for a in late)
    assert missing == sum(a.missing for a in late)
    assert issued + missing == len(late) > 0

    units = rows_by_unit(reports.units(db, period=period))
    chart = data["on-time-by-unit"]
    assert chart["keys"] == [r.unit for r in units] and units
    assert chart["series"]["early"] == [r.early for r in units]
    assert chart["series"]["on_time"] == [r.on_time for r in units]
    assert chart["series"]["late"] == [r.late for r in units]
    assert chart["series"]["rate"] == [
        round(100 * (r.early + r.on_time) / (r.early + r.on_time + r.late), 1) for r in units
    ]

    weeks = data["late-per-week"]
    mondays = [date(2026, 2, 2) + timedelta(weeks=i) for i in range(3)]
    assert weeks["labels"] == [f"{d:%d/%m}" for d in mondays]
    per_week = [
        reports.units(db, period=reports.Period.days(d, d + timedelta(days=6))) for d in mondays
    ]
    assert weeks["series"]["late"] == [sum(r.late for r in rows) for rows in per_week]
    assert weeks["series"]["late_on_arrival"] == [
        sum(r.late_on_arrival for r in rows) for rows in per_week
    ]
    # The weeks cut the period exactly: together, the period's late steps.
    assert sum(weeks["series"]["late"]) == sum(r.late for r in reports.units(db, period=period))
    assert sum(weeks["series"]["late"]) > 0


def test_the_units_page_over_everything_stored(db: str, tmp_path: Path) -> None:
    _, html = page(db, "units", tmp=tmp_path)
    data = charts.chart_data(html)
    assert set(data) == {"on-time-by-unit", "late-per-week"}
    everything = reports.units(db)
    assert data["on-time-by-unit"]["keys"] == [r.unit for r in rows_by_unit(everything)]
    # Weeks from the first finished step to the last one: all the late steps, each once.
    assert sum(data["late-per-week"]["series"]["late"]) == sum(r.late for r in everything)
    assert sum(data["late-per-week"]["series"]["steps"]) == sum(r.steps for r in everything)
    assert data["late-per-week"]["source"] == {
        "report": "units",
        "per": "week",
        "from": None,
        "until": None,
    }


def test_the_page_is_vietnamese_with_english_beside_and_has_the_tables(
    db: str, tmp_path: Path
) -> None:
    _, html = page(db, "period", "--from", FIRST, "--to", LAST, tmp=tmp_path)
    for text in (
        '<html lang="vi">',
        "Tình hình giải quyết hồ sơ trong kỳ",
        "(the period's dossiers)",
        "Biểu đồ",
        "Tỷ lệ bước xử lý đúng hạn theo đơn vị (on-time rate by unit)",
        "Kỳ báo cáo (period): 02/02/2026 – 22/02/2026",
        "Tiếp nhận trong kỳ (received)",
        "Mã đơn vị",
        "Đơn vị gây trễ",
    ):
        assert text in html, text
    # Self-contained: nothing fetched from elsewhere, no script.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    # Inline SVGs must not share an id, or a chart would clip to another's rectangle.
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]
    period = reports.period_report(db, period=reports.Period.days(FIRST, LAST))
    assert f'<td class="n">{period.received}</td>' in html


def test_an_empty_period_still_draws_every_chart(db: str, tmp_path: Path) -> None:
    _, html = page(db, "period", "--from", "2024-01-01", "--to", "2024-01-07", tmp=tmp_path)
    data = charts.chart_data(html)
    assert data["on-time-by-unit"]["labels"] == []
    assert data["late-per-week"]["series"]["late"] == [0]
    assert "Không có (none)" in html


def test_html_is_for_period_and_units_only(db: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["report", "officers", "--db", db, "--format", "html"])
    assert res.exit_code == 1 and "only the period and units reports" in res.output
    with pytest.raises(ValueError, match="no HTML page"):
        report_page(db, "returned")


def test_a_chart_is_the_same_picture_each_time_and_a_png(db: str) -> None:
    rows = reports.units(db)
    chart = charts.on_time_by_unit(rows, reports.Period())
    svg = charts.render_svg(chart)
    assert svg == charts.render_svg(chart)
    assert charts.chart_data(svg) == {"on-time-by-unit": chart.data()}
    png = charts.render_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# -- in a browser ---------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LIENTHONG_NEED_CHROMIUM"),
    reason="no chromium here (.ci/run installs it and sets LIENTHONG_NEED_CHROMIUM)",
)
def test_the_page_opens_in_headless_chromium_without_errors(db: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "LIENTHONG_NEED_CHROMIUM is set and chromium is missing"
    path, _ = page(db, "period", "--from", FIRST, "--to", LAST, tmp=tmp_path)
    url = path.resolve().as_uri()
    shot = tmp_path / "page.png"
    done = chromium(
        url,
        tmp_path / "profile",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line
    ]
    assert console == []
    assert shot.is_file() and shot.stat().st_size > 20_000
    # A picture, not a blank page: 1200 x 1600, and a good part of it not white.
    from matplotlib import image

    pixels = image.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert (pixels[..., :3].min(axis=2) < 0.9).mean() > 0.05
    # The DOM Chromium built has the four charts, each with its figures.
    dom = chromium(url, tmp_path / "profile2", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 4
    assert set(charts.chart_data(dom.stdout)) == {
        "period-results",
        "apologies",
        "on-time-by-unit",
        "late-per-week",
    }
