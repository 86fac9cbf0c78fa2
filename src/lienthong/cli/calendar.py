"""``lienthong calendar``: due dates, working time and days off from the command line.

The group is attached to the main command with ``main.add_command(calendar)``. Instants given
without an offset are Asia/Ho_Chi_Minh time (the library itself refuses naive instants: the
command line is where that convention lives). Errors are one line (``Error: ...``) and a
non-zero exit status. The calendar is the one an Engine of the deployment counts with (its
configuration's overlays and plugins': ``_load``), so that the command and the engine agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from lienthong.cli.options import current_config, db_option
from lienthong.errors import CalendarError
from lienthong.legaltime.calendar import WorkingCalendar, weekday_name
from lienthong.legaltime.clock import VN_TZ

__all__ = ["calendar"]

_CALENDAR_OPTION = click.option(
    "--calendar",
    "calendar_files",
    multiple=True,
    metavar="FILE",
    help="Calendar overlay (TOML) applied on top of the default calendar; repeat for several, "
    "later files win.",
)


def _instant(value: str, what: str) -> datetime:
    """Parse an ISO 8601 instant; without an offset it is Asia/Ho_Chi_Minh time."""
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(
            f"{what} {value!r} is not an ISO 8601 date-time (e.g. 2025-01-24T16:30 or "
            "2025-01-24T16:30+07:00)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=VN_TZ)
    return t


def _load(files: Sequence[str], db: str) -> WorkingCalendar:
    """The calendar an Engine of this deployment counts with: the national one, lienthong.toml's
    overlays, the ``--calendar`` files, then the overlays of the plugins an Engine on ``db``
    would load (an example for the demo organisation only when it is the demo's)."""
    from lienthong.engine.setup import plugin_manager, working_calendar
    from lienthong.org import Organisation
    from lienthong.plugins.manager import HookCaller

    config = current_config()
    org = config.get("organisation")
    try:
        base = WorkingCalendar.from_files(*config.get("calendar.overlays", []), *files)
        pm = plugin_manager(org=Organisation.from_file(org) if org else None, db=db)
        return working_calendar(HookCaller(pm), base)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="calendar")
def calendar() -> None:
    """Working calendar (lịch làm việc): due instants, working time, days off."""


@calendar.command()
@click.argument("start")
@click.option(
    "--days", type=float, required=True, help="Working days (may be fractional: 0.5 = 240 min)."
)
@click.option("--hours", type=float, default=0.0, show_default=True, help="Working hours.")
@_CALENDAR_OPTION
@db_option
def due(start: str, days: float, hours: float, calendar_files: tuple[str, ...], db: str) -> None:
    """Print the due instant of START plus a duration in working time.

    START is ISO 8601; without an offset it is Asia/Ho_Chi_Minh time. Outside working time the
    count starts at the next working instant; a sum ending at the end of a working period falls
    due at that end.
    """
    for option, value in (("--days", days), ("--hours", hours)):
        if value < 0:
            raise click.ClickException(f"{option} must not be negative, got {value:g}")
    cal = _load(calendar_files, db)
    t = _instant(start, "START")
    try:
        result = cal.add(t, days=days, hours=hours)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.isoformat())


@calendar.command()
@click.argument("start")
@click.argument("end")
@_CALENDAR_OPTION
@db_option
def between(start: str, end: str, calendar_files: tuple[str, ...], db: str) -> None:
    """Print the working minutes from START to END (0 if END is not after START)."""
    cal = _load(calendar_files, db)
    s, e = _instant(start, "START"), _instant(end, "END")
    try:
        minutes = cal.between(s, e)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(minutes))


@calendar.command()
@click.argument("year", type=int)
@_CALENDAR_OPTION
@db_option
def show(year: int, calendar_files: tuple[str, ...], db: str) -> None:
    """List YEAR's weekdays off and weekend days worked, with their names."""
    cal = _load(calendar_files, db)
    try:
        off = cal.days_off(year)
        worked = cal.weekend_workdays(year)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Ngày nghỉ trong tuần (weekdays off), {year}: {len(off)}")
    for d, name in off:
        click.echo(f"  {d.isoformat()}  {weekday_name(d):<8}  {name}")
    click.echo(f"Ngày làm bù cuối tuần (weekend days worked), {year}: {len(worked)}")
    for d, name in worked:
        click.echo(f"  {d.isoformat()}  {weekday_name(d):<8}  {name}")
