"""Legal-time rules as pure functions: appointments, step due instants, warnings, classification.

Nothing here reads a clock or a database, and nothing imports the store or the BPMN layer:
every function takes plain values (instants, minutes, counts) and the
:class:`~lienthong.legaltime.calendar.WorkingCalendar` it needs, so each rule can be tested for
all inputs.
Sources: Decree 118/2025 Arts 17–19, DESIGN.md "Legal time: the defaults".
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lienthong.legaltime.clock import VN_TZ
from lienthong.legaltime.durations import MINUTES_PER_DAY
from lienthong.status import ResultClass

if TYPE_CHECKING:
    from lienthong.legaltime.calendar import WorkingCalendar

#: An online dossier must be accepted or returned within 8 working hours (Art 17(2)).
ONLINE_RECEPTION_MINUTES = 8 * 60
#: A supplement may be requested within 3 working days of the agency receiving the dossier.
SUPPLEMENT_WINDOW_MINUTES = 3 * MINUTES_PER_DAY
#: With no supplement this many (calendar) days after the request, the desk closes the dossier.
SUPPLEMENT_CLOSE_DAYS = 15
#: The apology reminder goes out this many working minutes (half a working day) before the legal
#: latest instant for the apology, so that the unit at fault has time to draft and sign Mẫu 04.
APOLOGY_REMINDER_MINUTES = 240


class Deadline(Protocol):
    """What :func:`appointment` needs of a procedure (a
    :class:`~lienthong.bpmn.procedures.Procedure` has both)."""

    @property
    def same_day(self) -> bool: ...

    @property
    def deadline_minutes(self) -> int: ...


def appointment(procedure: Deadline, received: datetime, calendar: WorkingCalendar) -> datetime:
    """The due instant printed on the receipt (Mẫu 01), counted from the complete, valid receipt.

    Same-day procedures use the 15:00 cut-off; the others add the legal deadline in working time
    (a receipt outside working time counts from the next working instant).
    """
    if procedure.same_day:
        return calendar.same_day_due(received)
    return calendar.add_minutes(received, procedure.deadline_minutes)


def step_due(opened: datetime, share_minutes: int, calendar: WorkingCalendar) -> datetime:
    """A step's due instant: its share counted from when it became ready."""
    return calendar.add_minutes(opened, share_minutes)


def warning_lead(share_minutes: int) -> int:
    """How long before its due instant a step warns: one working day, or half the share when the
    share is under two working days."""
    if share_minutes < 2 * MINUTES_PER_DAY:
        return share_minutes // 2
    return MINUTES_PER_DAY


def warn_at(opened: datetime, share_minutes: int, calendar: WorkingCalendar) -> datetime | None:
    """The instant a step's warning fires (``None`` for a step with no share)."""
    if share_minutes <= 0:
        return None
    return calendar.add_minutes(opened, share_minutes - warning_lead(share_minutes))


def classify(finished: datetime, due: datetime | None) -> str | None:
    """Early (before the due day), on time (on the due day, not after the due instant), or late."""
    if due is None:
        return None
    if finished > due:
        return ResultClass.LATE
    if finished.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date():
        return ResultClass.EARLY
    return ResultClass.ON_TIME


def kpi_classify(
    resolved: datetime,
    calendar: WorkingCalendar,
    *,
    original_appointment: datetime | None,
    waiting_minutes: int,
    supplements: int,
) -> str | None:
    """The national indicators' clock (QĐ 766): the waiting time (supplements, obligations) is
    subtracted from the end, the result is compared with the first appointment, and a dossier with
    more than one supplement request counts as late whatever its times."""
    if supplements > 1:
        return ResultClass.LATE
    if original_appointment is None:
        return None
    end = resolved
    if waiting_minutes:
        end = calendar.subtract(resolved, minutes=waiting_minutes)
    return classify(end, original_appointment)


def late_minutes(finished: datetime, due: datetime | None, calendar: WorkingCalendar) -> int | None:
    """Working minutes from ``due`` to ``finished``: 0 when finished by the due instant, at least
    1 when after it (a step done at 17:30 for 17:00 is late though no working minute passed, so
    that ``late_minutes > 0`` and :func:`classify`'s ``late`` always agree); None with no due."""
    if due is None:
        return None
    if finished <= due:
        return 0
    return max(1, calendar.between(due, finished))


def latest_instant(calendar: WorkingCalendar, start: datetime, minutes: int) -> datetime:
    """The latest instant ``minutes`` working minutes after ``start``: where several instants
    are as far (a night or a break between them), the start of the next working period, not the
    end of the last one (Monday 08:00, not Friday 17:00)."""
    if minutes <= 0:
        return calendar.next_working_instant(start)
    return calendar.next_working_instant(calendar.add_minutes(start, minutes))


def apology_instants(
    start: datetime, appointment: datetime, calendar: WorkingCalendar
) -> tuple[datetime | None, datetime]:
    """The apology's reminder and its legal latest instant (Decree 118/2025 Art 19(6)), for a
    dossier whose clock started at ``start`` and is due at ``appointment``.

    The latest instant is one working day before the appointment (the latest such instant: Monday
    08:00 rather than Friday 17:00), never before the clock starts: for a deadline of two working
    days or less it is halfway from the start to the appointment. The reminder goes out
    :data:`APOLOGY_REMINDER_MINUTES` before the latest instant, or halfway from the start to it
    when that is nearer. So ``start < reminder < latest < appointment`` whenever the deadline
    is at least 3 working minutes; below that there is no room for a reminder (None).
    """
    span = calendar.between(start, appointment)
    latest_at = span - min(calendar.minutes_per_day, span // 2)
    latest = latest_instant(calendar, start, latest_at)
    remind_at = latest_at - min(APOLOGY_REMINDER_MINUTES, latest_at // 2)
    if not 0 < remind_at < latest_at:
        return None, latest
    return latest_instant(calendar, start, remind_at), latest
