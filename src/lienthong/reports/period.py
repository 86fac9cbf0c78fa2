"""``period``: the dossiers of a period (kỳ báo cáo: a month, six months, a year) as the
six-monthly and yearly reports count them, on both clocks, with the QĐ 766 "tiến độ, kết quả
giải quyết" indicators (domain.md §6).

A dossier *ends* when it is resolved (``resolved_at``: status 9, then 10) or else closed
(withdrawn 7, stopped 8, refused at reception 3); it is *in progress* at an instant when its
clock started (``received_at``) before it and it had not ended. Resolved late (quá hạn) means
resolved after its first appointment (``late_minutes > 0``), whatever an apology did; "of which
apologised" is the sub-count with an apology issued.

How it is read (migration 007): each count of the period is a count of one stretch of an index
ordered by class then instant (``dossiers_received``, ``dossiers_resolved``,
``dossiers_resolved_kpi``); the late and the unresolved-closed dossiers come from their own
small indexes. The dossiers in progress at an instant are counted by balance, received before
it less ended before it (two counts of index entries from the start of the store: no row is
read). Which of them were overdue is read from the open dossiers (``dossiers_open``) and, for a
past instant, from the late and closed dossiers that ended after it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports.common import (
    Names,
    Period,
    as_db,
    as_of,
    check_procedure,
    check_unit,
    rate,
)
from lienthong.status import Channel, ResultClass, Status

#: Waiting for the applicant (supplement, financial obligation): the legal clock is stopped.
WAITING = (int(Status.SUPPLEMENT_REQUESTED), int(Status.FINANCIAL_OBLIGATION))
_CLASSES = (None, ResultClass.EARLY, ResultClass.ON_TIME, ResultClass.LATE)


@attrs.frozen
class PeriodReport:
    """The figures of one period (each defined in docs/reports.md)."""

    period_start: str | None
    period_end: str | None
    carried_over: int
    received: int
    direct: int
    online: int
    postal: int
    resolved: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int
    resolved_late_apologised: int
    in_progress: int
    in_progress_on_time: int
    in_progress_overdue: int
    withdrawn: int
    stopped: int
    refused: int
    on_time_rate: float | None
    kpi_resolved_on_time: int
    kpi_resolved_late: int
    kpi_on_time_rate: float | None
    online_share: float | None
    kpi_processed: int
    kpi_processed_on_time: int
    kpi_progress_rate: float | None


class _Reader:
    """The statements of one report run, with its unit and procedure filters."""

    def __init__(self, db: sqlite_utils.Database, unit: str | None, procedure: str | None):
        self.db = db
        self.where = ""
        self.args: dict[str, object] = {}
        if unit is not None:
            self.where += " AND receiving_unit = :unit"
            self.args["unit"] = unit
        if procedure is not None:
            self.where += " AND procedure_code = :procedure"
            self.args["procedure"] = procedure

    def count(self, where: str, **args: object) -> int:
        n: int = self.db.conn.execute(
            f"SELECT count(*) FROM dossiers WHERE {where}{self.where}", {**self.args, **args}
        ).fetchone()[0]
        return n

    def rows(self, sql: str, **args: object) -> list[Any]:
        return self.db.conn.execute(f"{sql}{self.where}", {**self.args, **args}).fetchall()

    def by_class(
        self, column: str, index_where: str, time: str, rng: str, **args: object
    ) -> dict[str | None, int]:
        """Class -> count in a range of ``time``, one stretch of the index per class."""
        out = {}
        for rc in _CLASSES:
            test = f"{column} IS NULL" if rc is None else f"{column} = :rc"
            out[rc] = self.count(f"{index_where} AND {test} AND {rng}", rc=rc, **args)
        return out

    def received(self, rng: str, **args: object) -> dict[int, int]:
        return {
            int(c): self.count(
                f"received_at IS NOT NULL AND channel = :channel AND {rng}",
                channel=int(c),
                **args,
            )
            for c in Channel
        }

    def ended_before(self, at: str) -> int:
        """Dossiers received and ended before ``at`` (resolved, or withdrawn / stopped)."""
        resolved = sum(
            self.by_class(
                "result_class", "resolved_at IS NOT NULL", "resolved_at", "resolved_at < :at", at=at
            ).values()
        )
        closed = self.count(
            "resolved_at IS NULL AND closed_at IS NOT NULL AND closed_at < :at "
            "AND received_at IS NOT NULL",
            at=at,
        )
        return resolved + closed

    def in_progress(self, at: str) -> int:
        """Received before ``at`` and not ended then, by balance of two counts."""
        return sum(self.received("received_at < :at", at=at).values()) - self.ended_before(at)

    def overdue(self, at: str) -> tuple[list[str], int]:
        """The dossiers in progress at ``at`` and past their first appointment then, and how
        many in progress then were late on the QĐ 766 clock (overdue, or sent back twice).

        Waiting for the applicant now (status 5 or 6) counts as not overdue: the stored rows do
        not say whether a dossier was waiting at a past instant.
        """
        late: set[str] = set()
        twice: set[str] = set()
        # Still open: through dossiers_open.
        for code, appointment, status, supplements in self.rows(
            "SELECT code, coalesce(legal_appointment, appointment), status, supplements "
            "FROM dossiers "
            "WHERE closed_at IS NULL AND resolved_at IS NULL AND received_at < :at",
            at=at,
        ):
            if status not in WAITING and appointment is not None and appointment < at:
                late.add(code)
            if supplements >= 2:
                twice.add(code)
        # Resolved since, late (a dossier past its appointment at ``at`` and resolved after it
        # was resolved late): through dossiers_late.
        for code, appointment in self.rows(
            "SELECT code, coalesce(legal_appointment, appointment) FROM dossiers WHERE "
            "resolved_at IS NOT NULL AND late_minutes > 0 AND resolved_at >= :at "
            "AND received_at < :at",
            at=at,
        ):
            if appointment is not None and appointment < at:
                late.add(code)
        # Withdrawn or stopped since: through dossiers_closed.
        for code, appointment in self.rows(
            "SELECT code, appointment FROM dossiers WHERE resolved_at IS NULL "
            "AND closed_at IS NOT NULL AND closed_at >= :at AND received_at < :at",
            at=at,
        ):
            if appointment is not None and appointment < at:
                late.add(code)
        # Sent back twice and ended since: through dossiers_returned_twice.
        for (code,) in self.rows(
            "SELECT code FROM dossiers WHERE supplements >= 2 AND received_at < :at "
            "AND coalesce(resolved_at, closed_at) >= :at",
            at=at,
        ):
            twice.add(code)
        return sorted(late), len(late | twice)


def period_report(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
    now: datetime | None = None,
) -> PeriodReport:
    """The period's figures; ``unit`` keeps the dossiers received at that unit (its one-stop
    desk), ``procedure`` those of one procedure code. The dossiers in progress at the end are
    judged at the period's end or, for a period with no end, at ``now`` (default: the last
    instant the audit recorded)."""
    db = as_db(db)
    period = period or Period()
    check_unit(db, Names.of(org, db), unit)
    check_procedure(db, procedure)
    rd = _Reader(db, unit, procedure)
    lo, hi = period.low, period.high
    in_p = "{0} >= :lo AND {0} < :hi"
    channels = rd.received(in_p.format("received_at"), lo=lo, hi=hi)
    classes = rd.by_class(
        "result_class",
        "resolved_at IS NOT NULL",
        "resolved_at",
        in_p.format("resolved_at"),
        lo=lo,
        hi=hi,
    )
    kpi = rd.by_class(
        "kpi_class",
        "resolved_at IS NOT NULL",
        "resolved_at",
        in_p.format("resolved_at"),
        lo=lo,
        hi=hi,
    )
    late: dict[tuple[str | None, bool], int] = {}
    for rc, apologised, n in rd.db.conn.execute(
        "SELECT result_class, apology_issued_at IS NOT NULL, count(*) FROM dossiers "
        "WHERE resolved_at IS NOT NULL AND late_minutes > 0 AND resolved_at >= :lo "
        f"AND resolved_at < :hi{rd.where} GROUP BY 1, 2",
        {**rd.args, "lo": lo, "hi": hi},
    ):
        late[(rc, bool(apologised))] = n
    closed: dict[str, int] = {
        "withdrawn": 0,
        "stopped": 0,
        "refused": 0,
        "accepted": 0,
        "in_time": 0,
    }
    for status, accepted, in_time, n in rd.db.conn.execute(
        "SELECT status, received_at IS NOT NULL, "
        "(appointment IS NULL OR closed_at <= appointment) AND supplements <= 1, count(*) "
        "FROM dossiers WHERE resolved_at IS NULL AND closed_at IS NOT NULL "
        f"AND closed_at >= :lo AND closed_at < :hi{rd.where} GROUP BY 1, 2, 3",
        {**rd.args, "lo": lo, "hi": hi},
    ):
        name = {7: "withdrawn", 8: "stopped", 3: "refused"}.get(status)
        if name:
            closed[name] += n
        if status in (7, 8) and accepted:  # QĐ 766 counts these as processed
            closed["accepted"] += n
            closed["in_time"] += n if in_time else 0
    carried = rd.in_progress(lo) if period.start is not None else 0
    received = sum(channels.values())
    resolved = sum(classes.values())
    resolved_late = sum(late.values())
    in_progress = carried + received - resolved - closed["accepted"]
    overdue, kpi_late_open = rd.overdue(as_of(db, period, now))
    early = classes[ResultClass.EARLY] - sum(n for (rc, _a), n in late.items() if rc == "early")
    on_time = classes[ResultClass.ON_TIME] - sum(
        n for (rc, _a), n in late.items() if rc == "on_time"
    )
    kpi_on_time = kpi[ResultClass.EARLY] + kpi[ResultClass.ON_TIME]
    processed = resolved + closed["accepted"] + in_progress
    processed_on_time = kpi_on_time + closed["in_time"] + in_progress - kpi_late_open
    online = channels[int(Channel.ONLINE)]
    return PeriodReport(
        period_start=period.start.isoformat() if period.start else None,
        period_end=period.end.isoformat() if period.end else None,
        carried_over=carried,
        received=received,
        direct=channels[int(Channel.DIRECT)],
        online=online,
        postal=channels[int(Channel.POSTAL)],
        resolved=resolved,
        resolved_early=early,
        resolved_on_time=on_time,
        resolved_late=resolved_late,
        resolved_late_apologised=sum(n for (_rc, a), n in late.items() if a),
        in_progress=in_progress,
        in_progress_on_time=in_progress - len(overdue),
        in_progress_overdue=len(overdue),
        withdrawn=closed["withdrawn"],
        stopped=closed["stopped"],
        refused=closed["refused"],
        on_time_rate=rate(early + on_time, resolved),
        kpi_resolved_on_time=kpi_on_time,
        kpi_resolved_late=kpi[ResultClass.LATE],
        kpi_on_time_rate=rate(kpi_on_time, resolved),
        online_share=rate(online, received),
        kpi_processed=processed,
        kpi_processed_on_time=processed_on_time,
        kpi_progress_rate=rate(processed_on_time, processed),
    )


def overdue_in_progress(
    db: sqlite_utils.Database, at: str, unit: str | None = None, procedure: str | None = None
) -> list[str]:
    """The codes of the dossiers in progress at ``at`` (stored text) and overdue then, as the
    ``period`` report counts them."""
    return _Reader(db, unit, procedure).overdue(at)[0]
