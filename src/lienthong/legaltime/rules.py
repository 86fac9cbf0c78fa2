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
