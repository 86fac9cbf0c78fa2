"""Legal time: the working calendar (:mod:`~lienthong.legaltime.calendar`, with its overlays in
:mod:`~lienthong.legaltime.overlays`), the deadline rules as pure functions
(:mod:`~lienthong.legaltime.rules`), the clock (:mod:`~lienthong.legaltime.clock`, the only
module that reads the wall clock) and durations (:mod:`~lienthong.legaltime.durations`).

Nothing here imports the store, the BPMN layer or the engine.
"""

from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ, Clock, FixedClock, SystemClock
from lienthong.legaltime.overlays import Overlay, OverlayDay

__all__ = [
    "VN_TZ",
    "Clock",
    "FixedClock",
    "Overlay",
    "OverlayDay",
    "SystemClock",
    "WorkingCalendar",
]
