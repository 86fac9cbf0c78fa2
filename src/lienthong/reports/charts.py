"""Charts of the accountability reports (biểu đồ): the on-time rate by unit, late steps per
week, the apologies, and the period's results, drawn with matplotlib (Agg, no display) as SVG
and PNG.

A chart's figures are taken from the report's own records — :class:`~.units.UnitRow`,
:class:`~.period.PeriodReport`, :class:`~.apologies.ApologyRow` — never from a query of its
own, so the chart's numbers are the report's numbers. Each SVG carries them as JSON in a
``<metadata id="lienthong-chart-…">`` element (:func:`chart_data` reads them back), so that a
reader, or a test, can compare the picture with the table.

matplotlib is imported when a chart is first drawn: the reports themselves do not need it.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import attrs

from lienthong.errors import InvalidData
from lienthong.legaltime.clock import VN_TZ
from lienthong.reports.apologies import ApologyRow
from lienthong.reports.common import Period
from lienthong.reports.period import PeriodReport
from lienthong.reports.units import UnitRow

#: Colours, the same in every chart: a reader learns them once.
EARLY, ON_TIME, LATE, ARRIVED, MISSING, NEUTRAL = (
    "#2e7d32",
    "#81c784",
    "#e65100",
    "#ffb74d",
    "#c62828",
    "#1565c0",
)
_METADATA = re.compile(r'<metadata id="lienthong-chart-([\w-]+)">(.*?)</metadata>', re.S)


@attrs.frozen
class Chart:
    """What one chart shows: bars named ``labels`` (with ``keys``, the codes behind them), a
    value per bar in each of ``series`` (name -> values, in the labels' order), and what they
    were taken from (``source``: the report and its period)."""

    name: str
    title: str
    labels: tuple[str, ...]
    series: dict[str, tuple[float | int | None, ...]]
    source: dict[str, Any]
    keys: tuple[str, ...] = ()
    unit: str = "count"  # "count" or "percent"
    #: What the figures are, for the caption beneath the chart.
    note: str = ""

    def data(self) -> dict[str, Any]:
        """The chart's figures as plain JSON data (what its SVG carries)."""
        return {
            "chart": self.name,
            "title": self.title,
            "unit": self.unit,
            "labels": list(self.labels),
            "keys": list(self.keys),
            "series": {k: list(v) for k, v in self.series.items()},
            "source": self.source,
            "note": self.note,
        }


# -- the figures, from the reports' records -------------------------------------------------------
def unit_rate(row: UnitRow) -> float | None:
    """A unit's on-time rate, in per cent with one decimal: its steps finished early or on
    time among those it finished early, on time or late. Steps that reached it already late
    (``late_on_arrival``) are lateness it received, not made: left out, as the report keeps
    them apart. ``None`` when it finished none of them."""
    done = row.early + row.on_time + row.late
    return round(100.0 * (row.early + row.on_time) / done, 1) if done else None


def on_time_by_unit(rows: Sequence[UnitRow], period: Period) -> Chart:
    """Tỷ lệ đúng hạn theo đơn vị: one bar per unit that finished a step with a due instant."""
    shown = [r for r in rows if unit_rate(r) is not None]
    return Chart(
        name="on-time-by-unit",
        title="Tỷ lệ bước xử lý đúng hạn theo đơn vị (on-time rate by unit)",
        labels=tuple(r.name or r.unit for r in shown),
        keys=tuple(r.unit for r in shown),
        series={
            "rate": tuple(unit_rate(r) for r in shown),
            "early": tuple(r.early for r in shown),
            "on_time": tuple(r.on_time for r in shown),
            "late": tuple(r.late for r in shown),
            "late_on_arrival": tuple(r.late_on_arrival for r in shown),
        },
        source={"report": "units", **_period(period)},
        unit="percent",
        note="Các bước mỗi đơn vị xử lý xong trong kỳ, không tính bước nhận đã quá hạn; chỉ các "
        "đơn vị có bước có hạn (each unit's steps finished in the period, those that reached it "
        "already late left out; units with such steps only).",
    )


def weeks_of(period: Period, first: datetime | None, last: datetime | None) -> list[Period]:
    """The period cut into weeks, Monday to Sunday (Vietnamese time), the first and last one
    clipped to the period: they cover it exactly, each instant in one. An unbounded side is
    taken from ``first``/``last`` (the store's first and last finished step); none: no week."""
    start = period.start or first
    end = period.end or (last + timedelta(microseconds=1) if last else None)
    if start is None or end is None or start >= end:
        return []
    day = start.astimezone(VN_TZ).date()
    monday = datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), VN_TZ)
    out = []
    while monday < end:
        nxt = monday + timedelta(days=7)
        out.append(Period(max(monday, start), min(nxt, end)))
        monday = nxt
    return out


def late_per_week(weeks: Sequence[tuple[Period, Sequence[UnitRow]]], period: Period) -> Chart:
    """Số bước xử lý quá hạn theo tuần: for each week, the steps its units finished late (the
    ``units`` report of that week, its ``late`` summed), and those that reached them late."""
    return Chart(
        name="late-per-week",
        title="Số bước xử lý quá hạn theo tuần (late steps per week)",
        labels=tuple(_week_label(w) for w, _ in weeks),
        keys=tuple(w.low for w, _ in weeks),
        series={
            "late": tuple(sum(r.late for r in rows) for _, rows in weeks),
            "late_on_arrival": tuple(sum(r.late_on_arrival for r in rows) for _, rows in weeks),
            "steps": tuple(sum(r.steps for r in rows) for _, rows in weeks),
        },
        source={"report": "units", "per": "week", **_period(period)},
        note="Tuần tính từ thứ Hai, tuần đầu và cuối trong giới hạn của kỳ; mỗi cột là báo cáo "
        "theo đơn vị của tuần đó, số trên cột là số bước quá hạn (weeks from Monday, the first "
        "and last within the period; each bar is that week's units report, the number on it "
        "its late steps).",
    )


def apology_counts(rows: Sequence[ApologyRow], period: Period) -> Chart:
    """Văn bản xin lỗi (Mẫu 04) of the period's late dossiers: issued, of which on time and
    late (after the legal latest instant), and missing (the ``apologies`` report's rows)."""
    issued = sum(1 for r in rows if not r.missing)
    late = sum(1 for r in rows if not r.missing and r.late)
    return Chart(
        name="apologies",
        title="Văn bản xin lỗi và đề nghị gia hạn của hồ sơ quá hạn (apologies)",
        labels=(
            "Đã xin lỗi (issued)",
            "– đúng thời hạn (on time)",
            "– muộn (late)",
            "Chưa xin lỗi (missing)",
        ),
        keys=("issued", "on_time", "late", "missing"),
        series={"dossiers": (issued, issued - late, late, sum(1 for r in rows if r.missing))},
        source={"report": "apologies", **_period(period)},
        note="Hồ sơ quá hạn của kỳ; đúng thời hạn: chậm nhất 1 ngày làm việc trước ngày hẹn trả "
        "(the period's late dossiers; on time: by one working day before the appointment, "
        "Decree 118/2025 Art 19(6)).",
    )


def period_results(report: PeriodReport, period: Period) -> Chart:
    """Kết quả giải quyết trong kỳ: the period's dossiers resolved early, on time, late (after
    the first appointment) and those in progress at its end, on time or overdue."""
    keys = (
        "resolved_early",
        "resolved_on_time",
        "resolved_late",
        "in_progress_on_time",
        "in_progress_overdue",
    )
    return Chart(
        name="period-results",
        title="Kết quả giải quyết hồ sơ trong kỳ (the period's dossiers)",
        labels=(
            "Giải quyết trước hạn (early)",
            "Giải quyết đúng hạn (on time)",
            "Giải quyết quá hạn (late)",
            "Đang giải quyết, trong hạn (in progress)",
            "Đang giải quyết, quá hạn (overdue)",
        ),
        keys=keys,
        series={"dossiers": tuple(getattr(report, k) for k in keys)},
        source={"report": "period", **_period(period)},
        note="Quá hạn: giải quyết sau ngày hẹn trả đầu tiên, dù đã xin lỗi (late: resolved after "
        "the first appointment, apology or not); đang giải quyết: cuối kỳ (in progress: at the "
        "end of the period).",
    )


def _period(period: Period) -> dict[str, Any]:
    return {
        "from": period.start.isoformat() if period.start else None,
        "until": period.end.isoformat() if period.end else None,
    }


def _week_label(w: Period) -> str:
    """The week's Monday, ``dd/mm`` (also for a first week the period clips)."""
    assert w.start is not None
    day = w.start.astimezone(VN_TZ).date()
    return f"{day - timedelta(days=day.weekday()):%d/%m}"


# -- drawing --------------------------------------------------------------------------------------
def _figure(chart: Chart) -> Any:
    """The matplotlib figure of a chart (a Figure of its own: no pyplot, no global state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - a dependency; said plainly if it is missing
        raise InvalidData("charts need the matplotlib package (pip install matplotlib)") from None
    draw = {
        "on-time-by-unit": _draw_units,
        "late-per-week": _draw_weeks,
        "apologies": _draw_counts,
        "period-results": _draw_counts,
    }[chart.name]
    n = len(chart.labels)
    height = max(2.6, 0.55 * n + 1.4) if chart.name == "on-time-by-unit" else 3.4
    fig = Figure(figsize=(8.0, height), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(chart.title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not n:
        ax.text(
            0.5,
            0.5,
            "Không có số liệu (no data)",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#666666",
        )
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        draw(ax, chart)
    return fig


def _draw_units(ax: Any, chart: Chart) -> None:
    labels = [textwrap.fill(x, 34) for x in chart.labels]
    rates = [float(r or 0.0) for r in chart.series["rate"]]
    y = list(range(len(labels)))[::-1]  # the first unit on top
    ax.barh(y, rates, color=EARLY, height=0.6)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100], ["0 %", "25 %", "50 %", "75 %", "100 %"], fontsize=8)
    series = chart.series
    for yi, r, e, o, late in zip(
        y, rates, series["early"], series["on_time"], series["late"], strict=True
    ):
        good = int(e or 0) + int(o or 0)
        ax.text(
            r + 1, yi, f"{r:.1f} %  ({good}/{good + int(late or 0)})", va="center", fontsize=7.5
        )
    ax.set_xlabel(
        "bước trước hạn và đúng hạn / bước đã xử lý có hạn (early and on time / finished)",
        fontsize=8,
    )


def _draw_weeks(ax: Any, chart: Chart) -> None:
    x = list(range(len(chart.labels)))
    late = [int(v or 0) for v in chart.series["late"]]
    arrived = [int(v or 0) for v in chart.series["late_on_arrival"]]
    ax.bar(x, late, color=LATE, width=0.6, label="quá hạn (late)")
    ax.bar(
        x, arrived, bottom=late, color=ARRIVED, width=0.6, label="nhận đã quá hạn (late on arrival)"
    )
    step = max(1, len(x) // 14)
    ax.set_xticks(x[::step], [f"tuần {w}" for w in chart.labels][::step], fontsize=8)
    ax.set_ylabel("bước (steps)", fontsize=8)
    top = max([a + b for a, b in zip(late, arrived, strict=True)] or [0])
    ax.set_ylim(0, max(1, top) * 1.3)  # room for the legend above the bars
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="y", labelsize=8)
    for xi, v, a in zip(x, late, arrived, strict=True):
        # The count above each bar, 0 included: an empty week is a week with none, not a gap.
        ax.text(xi, v + a, str(v), ha="center", va="bottom", fontsize=7.5, color=LATE)
    ax.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)


def _draw_counts(ax: Any, chart: Chart) -> None:
    values = [int(v or 0) for v in chart.series["dossiers"]]
    colours = {
        "apologies": [NEUTRAL, EARLY, LATE, MISSING],
        "period-results": [EARLY, ON_TIME, LATE, NEUTRAL, MISSING],
    }[chart.name]
    y = list(range(len(values)))[::-1]
    ax.barh(y, values, color=colours, height=0.6)
    ax.set_yticks(y, list(chart.labels), fontsize=8)
    ax.set_xlim(0, max(1, max(values)) * 1.15)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("hồ sơ (dossiers)", fontsize=8)
    for yi, v in zip(y, values, strict=True):
        ax.text(v, yi, f" {v}", va="center", fontsize=8)


def render_svg(chart: Chart) -> str:
    """The chart as an SVG document (text) with its figures in ``<metadata>``; no date, and ids
    of its own (``svg.hashsalt``), so that the same chart is the same text and two charts
    inlined in one page never share an id."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": chart.name, "svg.fonttype": "path"}):
        fig = _figure(chart)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "lienthong"})
    svg = _scoped(buf.getvalue(), chart.name)
    data = escape(json.dumps(chart.data(), ensure_ascii=False, sort_keys=True))
    meta = f'<metadata id="lienthong-chart-{chart.name}">{data}</metadata>'
    head_end = svg.index(">", svg.index("<svg")) + 1
    return svg[:head_end] + "\n " + meta + svg[head_end:]


def _scoped(svg: str, prefix: str) -> str:
    """Every id of the SVG (and every reference to one) prefixed: matplotlib numbers its
    elements and names its glyphs the same in every file, and ids must be unique in the page
    that inlines several."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg

    def sub(m: re.Match[str]) -> str:
        lead, name, tail = m.group(1), m.group(2), m.group(3)
        return f"{lead}{prefix}-{name}{tail}" if name in ids else m.group(0)

    return re.sub(r'(\bid="|href="#|url\(#)([^")]+)(["\)])', sub, svg)


def render_png(chart: Chart, *, dpi: int = 120) -> bytes:
    """The chart as a PNG picture."""
    fig = _figure(chart)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "lienthong"})
    return buf.getvalue()


def inline_svg(svg: str) -> str:
    """An SVG document as an element to put in an HTML page (no XML declaration, no DOCTYPE)."""
    return svg[svg.index("<svg") :]


def chart_data(text: str) -> dict[str, dict[str, Any]]:
    """The figures of every chart in an SVG document or an HTML page: chart name -> its data
    (:meth:`Chart.data`)."""
    from xml.sax.saxutils import unescape

    return {
        name: json.loads(unescape(body, {"&quot;": '"', "&#x27;": "'"}))
        for name, body in _METADATA.findall(text)
    }
