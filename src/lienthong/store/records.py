"""Read-only records of what the store holds: a dossier (hồ sơ) and a step (bước xử lý).

The engine returns these and passes them to hooks; they are snapshots, rebuilt from the tables.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from lienthong.status import Channel, Status


def parse_instant(text: str | None) -> datetime | None:
    """Stored instants are ISO 8601 with their offset."""
    return datetime.fromisoformat(text) if text else None


def _json(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


@attrs.frozen
class Dossier:
    """One application under one procedure version."""

    code: str
    procedure_code: str
    procedure_version: str
    receiving_unit: str
    channel: Channel
    status: Status
    applicant: Mapping[str, Any]
    documents: tuple[Mapping[str, Any], ...]
    routing: Mapping[str, str]
    arrived_at: datetime
    received_at: datetime | None
    clock_start: datetime | None
    appointment: datetime | None
    original_appointment: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    result_class: str | None
    note: str | None
    fee: int | None = None
    supplements: int = 0
    apology_at: datetime | None = None
    apology_issued_at: datetime | None = None
    paused_since: datetime | None = None
    paused_minutes: int = 0
    kpi_waiting_minutes: int = 0
    kpi_class: str | None = None
    #: Working minutes past :attr:`legal_appointment` (the appointment no apology moved) when
    #: resolved: 0 in time, at least 1 when resolved after it; None unresolved.
    late_minutes: int | None = None
    #: The legal latest instant for the apology, kept after it is issued.
    apology_required_at: datetime | None = None
    #: The unit and officer that issued the apology, and whether it came after
    #: ``apology_required_at``.
    apology_unit: str | None = None
    apology_by: str | None = None
    apology_late: bool = False
    #: The appointment the legal clock alone sets (receipt, a supplement's restart, a pause's
    #: shift), which an apology does not move: lateness is measured against it.
    legal_appointment: datetime | None = None

    @property
    def is_closed(self) -> bool:
        """No command changes a closed dossier."""
        return self.status.is_closed

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Dossier:
        """Build from a ``dossiers`` row."""
        return cls(
            code=r["code"],
            procedure_code=r["procedure_code"],
            procedure_version=r["procedure_version"],
            receiving_unit=r["receiving_unit"],
            channel=Channel(r["channel"]),
            status=Status(r["status"]),
            applicant=_json(r["applicant"], {}),
            documents=tuple(_json(r["documents"], [])),
            routing=_json(r["routing"], {}),
            arrived_at=datetime.fromisoformat(r["arrived_at"]),
            received_at=parse_instant(r["received_at"]),
            clock_start=parse_instant(r["clock_start"]),
            appointment=parse_instant(r["appointment"]),
            original_appointment=parse_instant(r["original_appointment"]),
            resolved_at=parse_instant(r["resolved_at"]),
            closed_at=parse_instant(r["closed_at"]),
            result_class=r["result_class"],
            note=r["note"],
            fee=r.get("fee"),
            supplements=r.get("supplements") or 0,
            apology_at=parse_instant(r.get("apology_at")),
            apology_issued_at=parse_instant(r.get("apology_issued_at")),
            paused_since=parse_instant(r.get("paused_since")),
            paused_minutes=r.get("paused_minutes") or 0,
            kpi_waiting_minutes=r.get("kpi_waiting_minutes") or 0,
            kpi_class=r.get("kpi_class"),
            late_minutes=r.get("late_minutes"),
            apology_required_at=parse_instant(r.get("apology_required_at")),
            apology_unit=r.get("apology_unit"),
            apology_by=r.get("apology_by"),
            apology_late=bool(r.get("apology_late")),
            legal_appointment=parse_instant(r.get("legal_appointment")),
        )


@attrs.frozen
class Step:
    """One occurrence of a user or service task in a dossier."""

    id: int
    dossier: str
    task_id: str
    spec_id: str
    name: str
    kind: str
    step_kind: str
    role: str
    unit: str
    assignee: str | None
    status: str  # open | claimed | done | cancelled | failed
    opened_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    share_minutes: int
    due_at: datetime | None
    result_class: str | None
    data: Mapping[str, Any]
    attempts: int = 0
    last_error: str | None = None
    warn_at: datetime | None = None
    escalation_level: int = 0
    escalated_to: str | None = None
    next_escalation_at: datetime | None = None
    #: A service step: when it is due to run (its first attempt or the next retry); ``None``
    #: once no automatic attempt is left (``Engine.retry`` or ``Engine.correct_data`` then).
    next_attempt_at: datetime | None = None
    #: A service step: who runs it (an engine or a worker) and until when.
    leased_by: str | None = None
    lease_until: datetime | None = None
    #: When the step first went overdue (the due instant it missed); never cleared.
    first_overdue_at: datetime | None = None
    #: Working minutes past its due instant when it was done (0 in time, at least 1 when done
    #: after it; None while open, cancelled, or with no due instant).
    late_minutes: int | None = None
    #: It opened already at or past its due instant (lateness it received, not made).
    arrived_late: bool = False

    @property
    def is_open(self) -> bool:
        """True until the step is completed or cancelled."""
        return self.closed_at is None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Step:
        """Build from a ``steps`` row."""
        return cls(
            id=r["id"],
            dossier=r["dossier"],
            task_id=r["task_id"],
            spec_id=r["spec_id"],
            name=r["name"],
            kind=r["kind"],
            step_kind=r["step_kind"],
            role=r["role"],
            unit=r["unit"],
            assignee=r["assignee"],
            status=r["status"],
            opened_at=datetime.fromisoformat(r["opened_at"]),
            claimed_at=parse_instant(r["claimed_at"]),
            closed_at=parse_instant(r["closed_at"]),
            closed_by=r["closed_by"],
            share_minutes=r["share_minutes"],
            due_at=parse_instant(r["due_at"]),
            result_class=r["result_class"],
            data=_json(r["data"], {}),
            attempts=r["attempts"],
            last_error=r["last_error"],
            warn_at=parse_instant(r.get("warn_at")),
            escalation_level=r.get("escalation_level") or 0,
            escalated_to=r.get("escalated_to"),
            next_escalation_at=parse_instant(r.get("next_escalation_at")),
            next_attempt_at=parse_instant(r.get("next_attempt_at")),
            leased_by=r.get("leased_by"),
            lease_until=parse_instant(r.get("lease_until")),
            first_overdue_at=parse_instant(r.get("first_overdue_at")),
            late_minutes=r.get("late_minutes"),
            arrived_late=bool(r.get("arrived_late")),
        )


_R = TypeVar("_R", Dossier, Step)
_FIELDS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]]] = {}


def evolve(record: _R, **changes: Any) -> _R:
    """``attrs.evolve(record, **changes)``, which looks the class's fields up on every call: here
    their names are read once per class, and the record's values all at once."""
    cls = type(record)
    found = _FIELDS.get(cls)
    if found is None:
        names = [a.name for a in attrs.fields(cls)]
        found = _FIELDS[cls] = (operator.attrgetter(*names), {n: i for i, n in enumerate(names)})
    get, index = found
    values = list(get(record))
    for name, value in changes.items():
        try:
            values[index[name]] = value
        except KeyError:
            raise TypeError(f"{cls.__name__} has no field {name!r}") from None
    return cls(*values)
