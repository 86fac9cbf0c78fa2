"""How the forms write instants, sums and durations: in Vietnamese, as the paper forms do
(``09 giờ 00 phút, ngày 05 tháng 02 năm 2026``), in Asia/Ho_Chi_Minh whatever the offset an
instant was stored with.

These are Jinja2 filters too (:mod:`lienthong.forms.render` registers them); ``None`` gives the
dotted blank a paper form leaves for a value nobody knows yet.
"""

from __future__ import annotations

from datetime import date, datetime

from markupsafe import Markup, escape

from lienthong.legaltime.clock import VN_TZ
from lienthong.legaltime.durations import MINUTES_PER_DAY, MINUTES_PER_HOUR

#: What a form prints where it has no value: the dots a clerk would fill in by hand.
BLANK = "…………"


def _local(t: datetime) -> datetime:
    return t.astimezone(VN_TZ)


def day(t: datetime | date | None) -> str:
    """``ngày 05 tháng 02 năm 2026``."""
    if t is None:
        return f"ngày {BLANK} tháng {BLANK} năm {BLANK}"
    d = _local(t) if isinstance(t, datetime) else t
    return f"ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"


def clock_time(t: datetime | None) -> str:
    """``09 giờ 00 phút``."""
    if t is None:
        return f"{BLANK} giờ {BLANK} phút"
    local = _local(t)
    return f"{local.hour:02d} giờ {local.minute:02d} phút"


def instant(t: datetime | None) -> str:
    """``09 giờ 00 phút, ngày 05 tháng 02 năm 2026``."""
    return f"{clock_time(t)}, {day(t)}"


def short_day(t: datetime | date | None) -> str:
    """``05/02/2026``, for the narrow columns of a table."""
    if t is None:
        return ""
    d = _local(t) if isinstance(t, datetime) else t
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def short_time(t: datetime | None) -> str:
    """``09 giờ 00``, beside :func:`short_day` in a table."""
    if t is None:
        return ""
    local = _local(t)
    return f"{local.hour:02d} giờ {local.minute:02d}"


def place_date(place: str | None, t: datetime | None) -> str:
    """``Tân Mẫu, ngày 05 tháng 02 năm 2026``: the place (địa danh) and date line under the
    national heading; the organisation file names no place, so without one it is dots."""
    return f"{place or BLANK}, {day(t)}"


def money(vnd: int | None) -> str:
    """``50.000 đồng``; ``không thu`` for no fee."""
    if not vnd:
        return "Không thu"
    return f"{vnd:,}".replace(",", ".") + " đồng"


def duration(minutes: int, *, same_day: bool = False) -> str:
    """A legal deadline in working time: ``03 ngày làm việc``, ``04 giờ làm việc``, ``01 ngày
    làm việc và 04 giờ``; ``trong ngày`` for a same-day procedure."""
    if same_day:
        return "Trong ngày làm việc"
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, MINUTES_PER_HOUR)
    parts = []
    if days:
        parts.append(f"{days:02d} ngày làm việc")
    if hours:
        parts.append(f"{hours:02d} giờ")
    if mins:
        parts.append(f"{mins:02d} phút")
    if not parts:
        return "Trả ngay"
    if not days:
        parts[-1] += " làm việc"
    return " và ".join(parts)


def upper(text: str | None) -> str:
    """Capitals, as a unit's name stands in a form's heading (Python's ``str.upper`` keeps the
    Vietnamese marks: ``Ủy ban`` -> ``ỦY BAN``)."""
    return (text or "").upper()


def breakable(code: str) -> Markup:
    """A dossier code that may break after its hyphens in a narrow column (``<wbr>``), and
    nowhere else."""
    return Markup(str(escape(code)).replace("-", "-<wbr>"))


FILTERS = {
    "breakable": breakable,
    "day": day,
    "clock_time": clock_time,
    "instant": instant,
    "short_day": short_day,
    "short_time": short_time,
    "money": money,
    "upper_vn": upper,
}
