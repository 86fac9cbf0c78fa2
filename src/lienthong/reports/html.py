"""The ``period`` and ``units`` reports as one self-contained HTML page (báo cáo có biểu đồ):
Vietnamese headings with the English beside, the charts inline as SVG (each carrying its
figures, :mod:`lienthong.reports.charts`), and the report's tables. No script, no stylesheet or
font from elsewhere: the page opens from a file, offline, and prints.

Every figure on the page comes from the report functions' own records: the tables are
:func:`lienthong.reports.formats.rows_of` of them, the charts are drawn from the same records
(and from the ``units`` report of each week, for the weekly chart).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports import charts, formats
from lienthong.reports.apologies import apologies
from lienthong.reports.common import Names, Period, as_db
from lienthong.reports.period import period_report
from lienthong.reports.units import units
from lienthong.store.records import parse_instant

#: The reports that have an HTML page.
KINDS = ("period", "units")

_STYLE = """
body { font-family: "Segoe UI", "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: #1b1b1b;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
.en { color: #666; font-weight: normal; font-size: .85em; }
.period { color: #444; margin-top: 0; }
figure { margin: 1em 0 1.5em; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .85em; color: #444; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: .25em .5em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
th .en { display: block; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
details { font-size: .85em; margin: -.5em 0 1em; }
@page { size: A4; margin: 15mm; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } }
"""

#: What each page is called.
TITLES = {
    "period": ("Tình hình giải quyết hồ sơ trong kỳ", "the period's dossiers"),
    "units": ("Kết quả xử lý theo đơn vị", "steps finished by unit"),
}


def report_page(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    kind: str,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
) -> str:
    """The HTML page of report ``kind`` (``period`` or ``units``), with its charts.

    ``period``: the ``period`` figures, the results chart, the apologies chart, and the units
    of the same dossiers' steps (on-time rate by unit, late steps per week, the units table);
    ``units``: the on-time rate by unit, late steps per week and the units table. Filters as
    for the report functions.
    """
    if kind not in KINDS:
        raise ValueError(f"no HTML page for the {kind!r} report (only {', '.join(KINDS)})")
    db = as_db(db)
    names = Names.of(org, db)
    period = period or Period()
    unit_rows = units(db, org=names, period=period, unit=unit, procedure=procedure)
    weeks = [
        (w, units(db, org=names, period=w, unit=unit, procedure=procedure))
        for w in charts.weeks_of(period, *_extent(db))
    ]
    sections: list[str] = []
    figures: list[charts.Chart] = []
    if kind == "period":
        figures_report = period_report(db, org=names, period=period, unit=unit, procedure=procedure)
        late = apologies(db, org=names, period=period, unit=unit, procedure=procedure)
        figures += [
            charts.period_results(figures_report, period),
            charts.apology_counts(late, period),
        ]
    figures += [charts.on_time_by_unit(unit_rows, period), charts.late_per_week(weeks, period)]
    sections.append(_heading("Biểu đồ", "charts"))
    sections += [_figure(c) for c in figures]
    if kind == "period":
        sections.append(_heading("Các chỉ tiêu của kỳ", "the period's figures"))
        sections.append(_table("period", figures_report))
        sections.append(_heading("Hồ sơ quá hạn và văn bản xin lỗi", "late dossiers, apologies"))
        sections.append(_table("apologies", late))
    sections.append(_heading("Kết quả xử lý theo đơn vị", "steps finished by unit"))
    sections.append(_table("units", unit_rows))
    vi, en = TITLES[kind]
    scope = "; ".join(
        [
            *([f"đơn vị (unit) {unit}"] if unit else []),
            *([f"thủ tục {procedure}"] if procedure else []),
        ]
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="vi">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(vi)} ({escape(en)}) — {escape(period.describe())}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            f'<h1>{escape(vi)} <span class="en">({escape(en)})</span></h1>',
            f'<p class="period">Kỳ báo cáo (period): {escape(period.describe())}'
            + (f" — {escape(scope)}" if scope else "")
            + "</p>",
            *sections,
            '<p class="en">Lập bởi lienthong từ cơ sở dữ liệu; định nghĩa từng chỉ tiêu: '
            "docs/reports.md (made by lienthong from the store; every figure is defined in "
            "docs/reports.md).</p>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _extent(db: sqlite_utils.Database) -> tuple[Any, Any]:
    """The first and the last instant a step was finished (for a period with no bounds)."""
    row = db.conn.execute(
        "SELECT min(closed_at), max(closed_at) FROM steps WHERE status = 'done'"
    ).fetchone()
    return parse_instant(row[0]), parse_instant(row[1])


def _heading(vi: str, en: str) -> str:
    return f'<h2>{escape(vi)} <span class="en">({escape(en)})</span></h2>'


def _figure(chart: charts.Chart) -> str:
    """A chart, inline, with a caption and its figures in a small table beneath."""
    svg = charts.inline_svg(charts.render_svg(chart))
    heads = "".join(f"<th>{escape(k)}</th>" for k in chart.series)
    body = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f'<td class="n">{_cell(v[i])}</td>' for v in chart.series.values())
        + "</tr>"
        for i, label in enumerate(chart.labels)
    )
    return (
        f'<figure id="chart-{chart.name}">\n{svg}\n'
        f"<figcaption>{escape(chart.note or chart.title)}</figcaption>\n</figure>\n"
        f"<details><summary>Số liệu của biểu đồ (the chart's figures)</summary>"
        f"<table><tr><th></th>{heads}</tr>{body}</table></details>"
    )


def _table(kind: str, result: Any) -> str:
    """A report's table: Vietnamese headers with the English beneath, values as a person
    reads them (:func:`lienthong.reports.formats.rows_of`)."""
    cols: Sequence[str] = formats.COLUMNS[kind]
    if kind == "period":
        cols = ("label", "value")
    head = "".join(_header(c) for c in cols)
    rows = []
    for r in formats.rows_of(kind, result):
        cells = []
        for c in cols:
            v = formats.shown(c, r.get(c))
            cls = ' class="n"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{_cell(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return '<p class="en">Không có (none).</p>'
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "\n</table>"


def _header(key: str) -> str:
    vi, en = formats.HEADERS.get(key, (key, key))
    if vi == en:
        return f"<th>{escape(vi)}</th>"
    return f'<th>{escape(vi)}<span class="en">({escape(en)})</span></th>'


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return escape(str(value))
