"""The process control sheet (phiếu kiểm soát quá trình giải quyết hồ sơ, Mẫu 06) of a dossier,
built from its audit rows in the store.

What the applicant and the agencies see, not how the engine got there: a branch that waits at a
parallel join writes an audit row with no receiving unit (the join fires later, from the last
branch); the sheet leaves such rows out. Each row says what kind of event it is (``kind``: a
handoff, a supplement request, an apology...) and, for a handoff, when the receiving officer
took the step (``received_at``). The header keeps the first appointment (the one printed on Mẫu
01) and lists each later one with its cause: the deadline restarted by a supplement, moved by
a financial obligation's pause, reset by the apology.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import sqlite_utils

from lienthong.legaltime.clock import VN_TZ
from lienthong.status import ResultClass
from lienthong.store import audit, orgs
from lienthong.store.records import parse_instant
from lienthong.store.tables import Records

if TYPE_CHECKING:
    from lienthong.bpmn.procedures import Procedure
    from lienthong.org import Organisation

SHEET_EVENTS = (
    "received",
    "handoff",
    "returned",
    "supplement_requested",
    "supplement_received",
    "obligation_started",
    "obligation_ended",
    "withdrawn",
    "apology",
)


@attrs.frozen
class SheetRow:
    """One handoff: who gave, who received, when, and how the giving step ended."""

    giver: str
    receiver: str
    at: datetime
    giver_officer: str
    receiver_officer: str
    result: str
    note: str
    #: The capacity the giving or receiving officer acted in when not as one of their unit's
    #: own: ``theo ủy quyền của …`` (a delegation) or ``được chuyển lên cấp N`` (an escalation).
    giver_acting: str = ""
    receiver_acting: str = ""
    #: The audit event the row stands for (``received``, ``handoff``, ``supplement_requested``,
    #: ``supplement_received``, ``apology``, ``obligation_started``, ``obligation_ended``,
    #: ``refused``, ``withdrawn``, ``returned``) and its Vietnamese label (:data:`KINDS`).
    event: str = "handoff"
    kind: str = ""
    #: When the receiver took it: for a handoff, the instant the receiving officer claimed the
    #: step (or completed it unclaimed; a service step: at once); ``None`` while nobody has.
    #: For the other rows, the row's own instant.
    received_at: datetime | None = None
    #: The GHI CHÚ without the kind: a handoff's next step, a request's or apology's reason.
    detail: str = ""
    #: The appointment the row set (a supplement received, a pause ended, the apology).
    appointment: datetime | None = None


@attrs.frozen
class Reappointment:
    """A later appointment than the first: the instant it was set, the new appointment, and
    why (``cause``: ``supplement``, ``obligation`` or ``apology``; ``label`` in Vietnamese)."""

    at: datetime
    appointment: datetime
    cause: str
    label: str


#: The label of each kind of row (loại sự kiện), as the sheet prints it.
KINDS = {
    "received": "Tiếp nhận hồ sơ",
    "handoff": "Giao – nhận hồ sơ",
    "supplement_requested": "Yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02)",
    "supplement_received": "Nhận hồ sơ bổ sung",
    "apology": "Xin lỗi và đề nghị gia hạn thời gian giải quyết (Mẫu 04)",
    "obligation_started": "Tạm dừng: chờ thực hiện nghĩa vụ tài chính",
    "obligation_ended": "Hoàn thành nghĩa vụ tài chính",
    "refused": "Từ chối tiếp nhận hồ sơ (Mẫu 03)",
    "withdrawn": "Rút hồ sơ, dừng giải quyết (Mẫu 05)",
    "stopped": "Dừng giải quyết hồ sơ (Mẫu 05)",
    "returned": "Trả kết quả",
}
_CAUSES = {
    "supplement_received": (
        "supplement",
        "sau khi nhận đủ hồ sơ bổ sung, thời hạn tính lại từ đầu",
    ),
    "obligation_ended": ("obligation", "lùi theo thời gian thực hiện nghĩa vụ tài chính"),
    "apology": ("apology", "hẹn lại theo văn bản xin lỗi"),
}
#: Who did what a service step did: its plugin, for the lienthong system.
SYSTEM = "Hệ thống tự động"
#: The audit's name for the applicant (``lienthong.engine.context.APPLICANT``, a room above).
APPLICANT = "Người nộp hồ sơ"


@attrs.frozen
class ControlSheet:
    """The process control sheet of one dossier."""

    dossier: str
    procedure: str
    applicant: str
    receiving_unit: str
    received_at: datetime | None
    appointment: datetime | None
    resolving_unit: str
    coordinating_units: tuple[str, ...]
    rows: tuple[SheetRow, ...]
    #: The first appointment (printed on Mẫu 01); ``appointment`` is the current one.
    first_appointment: datetime | None = None
    #: Each later appointment, in order, with its cause.
    reappointments: tuple[Reappointment, ...] = ()

    @property
    def apology_appointment(self) -> datetime | None:
        """The new appointment the apology set (ngày hẹn trả lại), if one was issued."""
        found = [r.appointment for r in self.reappointments if r.cause == "apology"]
        return found[-1] if found else None

    def render(self) -> str:
        """The sheet as text, with the Mẫu 06 headings."""
        out = [
            "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
            f"Mã hồ sơ: {self.dossier}",
            f"Thủ tục: {self.procedure}",
            f"Kèm theo hồ sơ của: {self.applicant}",
            f"Ngày nhận: {fmt_instant(self.received_at)}",
            f"Ngày, giờ hẹn trả kết quả: {fmt_instant(self.first_appointment)}",
            *(
                f"Hẹn trả lại ({r.label}, {fmt_instant(r.at)}): {fmt_instant(r.appointment)}"
                for r in self.reappointments
            ),
            f"Cơ quan (bộ phận) giải quyết hồ sơ: {self.resolving_unit}",
            f"Cơ quan phối hợp giải quyết hồ sơ: {', '.join(self.coordinating_units) or '—'}",
            "",
        ]
        head = ("TÊN CƠ QUAN", "THỜI GIAN GIAO, NHẬN HỒ SƠ", "KẾT QUẢ GIẢI QUYẾT HỒ SƠ", "GHI CHÚ")
        table = [head]
        for r in self.rows:
            who = f"1. Giao: {r.giver}\n2. Nhận: {r.receiver}"
            when = (
                f"{fmt_instant(r.at)}\nNgười giao: {_with(r.giver_officer, r.giver_acting)}"
                f"\nNgười nhận: {_with(r.receiver_officer, r.receiver_acting)}"
            )
            table.append((who, when, r.result, r.note))
        out.append(_grid(table))
        return "\n".join(out)


def fmt_instant(t: datetime | None) -> str:
    """``…giờ…phút, ngày…tháng…năm`` as on the paper forms."""
    if t is None:
        return "—"
    t = t.astimezone(VN_TZ)
    return f"{t.hour:02d} giờ {t.minute:02d} phút, ngày {t.day:02d}/{t.month:02d}/{t.year}"


def _with(officer: str, acting: str) -> str:
    return f"{officer} ({acting})" if acting else officer


def acting_label(data: Any, officer_name: Callable[[str | None], str]) -> str:
    """How the sheet says the capacity an audit row's ``data`` records (see
    :mod:`lienthong.engine.permissions`); ``""`` for none."""
    if not isinstance(data, dict):
        return ""
    if data.get("acting") == "delegation":
        ref = str(data.get("reference") or "")
        return f"theo ủy quyền của {officer_name(data.get('for'))}" + (f", {ref}" if ref else "")
    if data.get("acting") == "escalation":
        return f"được chuyển lên cấp {data.get('level')}"
    return ""


def result_label(result_class: str | None) -> str:
    """Trước hạn / Đúng hạn / Quá hạn, or blank while the step is open."""
    return ResultClass.LABELS.get(result_class or "", "")


def _grid(rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    split = [[cell.split("\n") for cell in r] for r in rows]
    widths = [max(len(line) for r in split for line in r[i]) for i in range(len(rows[0]))]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [sep]
    for r in split:
        height = max(len(c) for c in r)
        for k in range(height):
            cells = [(c[k] if k < len(c) else "").ljust(widths[i]) for i, c in enumerate(r)]
            out.append("| " + " | ".join(cells) + " |")
        out.append(sep)
    return "\n".join(out)


def control_sheet(
    db: sqlite_utils.Database,
    org: Organisation | orgs.Names | None,
    procedure: Callable[[str], Procedure],
    code: str,
) -> ControlSheet:
    """The dossier's sheet: one row per handoff and per reception, return or pause, in order.

    Read from the store alone (the dossier, its steps and its audit rows); ``procedure`` gives
    the procedure version the dossier was received under, for its name and lanes. Units and
    officers are named from every organisation the store keeps (:func:`lienthong.store.orgs.names`),
    so an officer who has left shows under the name they had; where ``org`` (the engine's own
    organisation) names one too, its name wins.
    """
    records = Records()
    d = records.dossier(db, code)
    proc = procedure(d.procedure_version)
    names = orgs.names(db)
    if org is not None:
        names = names | (org if isinstance(org, orgs.Names) else orgs.Names.of(org))

    def unit_name(c: str | None, fallback: str) -> str:
        if not c:
            return fallback
        name = names.units.get(c)
        return f"{name} ({c})" if name is not None else c

    def officer_name(o: str | None) -> str:
        if not o:
            return ""
        if o == "system":  # a service step, closed by its plugin
            return SYSTEM
        if o == APPLICANT:
            return str(d.applicant.get("name") or APPLICANT)
        return names.officer(o)

    # The audit row of a handoff is written when the step opens, often before anyone took it;
    # the officer who took (or closed) that step is the one who received it (Người nhận).
    steps = {st.id: st for st in records.steps_of(db, code)}
    audit_rows = audit.rows_for(db, code)
    # The capacity (delegation, escalation) an officer acted in: by row, and by the step they
    # claimed or completed in it, for the handoff row that led to that step.
    acting = {r["id"]: _data(r["data"]) for r in audit_rows if r["data"]}
    by_step: dict[tuple[int, str], str] = {}
    for data in acting.values():
        if isinstance(data.get("step"), int) and data.get("acting"):
            by_step[(data["step"], str(data.get("officer")))] = acting_label(data, officer_name)

    def receiver_id(r: dict[str, Any]) -> str | None:
        if r["to_officer"]:
            return str(r["to_officer"])
        st = steps.get(r["step_id"]) if r["event"] in ("handoff", "received") else None
        if st is None or st.unit != r["to_unit"]:
            return None
        if st.kind != "user":
            return "system"  # a service step: its plugin takes it at once
        return st.assignee or (st.closed_by if st.closed_by != "system" else None)

    def labels(r: dict[str, Any], taker: str | None) -> tuple[str, str]:
        """The giver's and the receiver's capacity. A row's own ``data`` is about the officer
        who did its event: the receiving one for a reception, an applicant's withdrawal, a
        supplement's receipt or a payment (the applicant gives them, the officer takes them),
        the giving one otherwise; the receiver of a handoff took the step later, by the claim
        or completion that recorded it."""
        data = acting.get(r["id"], {})
        own = acting_label(data, officer_name) if data.get("acting") else ""
        if r["event"] in ("received", "withdrawn", "supplement_received", "obligation_ended"):
            if own and data.get("officer") == r["to_officer"]:
                return "", own
        elif own and data.get("officer") == r["from_officer"]:
            return own, taken(r, taker)
        return "", taken(r, taker)

    def taken(r: dict[str, Any], taker: str | None) -> str:
        if taker is None or r["event"] not in ("handoff", "received"):
            return ""
        return by_step.get((r["step_id"], taker), "")

    def taken_at(r: dict[str, Any], at: datetime) -> datetime | None:
        """When the receiver took the row's step (see :attr:`SheetRow.received_at`)."""
        if r["event"] != "handoff":
            return at
        st = steps.get(r["step_id"])
        if st is None or st.unit != r["to_unit"]:
            return None
        if st.kind != "user":
            return st.opened_at  # a service step runs as soon as it opens
        return st.claimed_at or (st.closed_at if st.status == "done" else None)

    rows = []
    reappointments = []
    for r in audit_rows:
        if r["event"] not in (*SHEET_EVENTS, "refused"):
            continue
        if r["event"] == "handoff" and not r["to_unit"]:
            continue  # a branch waiting at a parallel join: the engine's, not a handoff
        taker = receiver_id(r)
        giver_acting, receiver_acting = labels(r, taker)
        at = parse_instant(r["at"])
        assert at is not None
        due = parse_instant(r["due_at"])
        if r["event"] in _CAUSES and due is not None:
            cause, label = _CAUSES[r["event"]]
            reappointments.append(Reappointment(at=at, appointment=due, cause=cause, label=label))
        event = r["event"]
        detail = _detail(event, r["note"] or "")
        giver, receiver = r["from_unit"], r["to_unit"]
        stopped = event == "withdrawn" and r["from_officer"] != APPLICANT
        if stopped:
            # The agency stops it (status 8): its officer's unit gives the notice (Mẫu 05) to
            # the applicant.
            giver = names.unit_of(str(r["from_officer"])) or d.receiving_unit
            receiver, taker = None, None
        kind_key = "stopped" if stopped else event
        rows.append(
            SheetRow(
                giver=unit_name(giver, APPLICANT),
                receiver=unit_name(receiver, APPLICANT),
                at=at,
                giver_officer=officer_name(r["from_officer"]),
                receiver_officer=officer_name(taker),
                result=result_label(r["result_class"]),
                note=_note(event, KINDS[kind_key], detail, due),
                giver_acting=giver_acting,
                receiver_acting=receiver_acting,
                event=event,
                kind=KINDS[kind_key],
                received_at=taken_at(r, at),
                detail=detail,
                appointment=due if event in _CAUSES else None,
            )
        )
    resolving = sorted({st.unit for st in steps.values() if st.step_kind == "processing"})
    lanes = {lane.role: lane for lane in proc.lanes.values()}
    coordinating = tuple(
        unit_name(unit, unit)
        for role, unit in sorted(d.routing.items())
        if role in lanes and lanes[role].coordinating
    )
    lead = [u for u in resolving if unit_name(u, u) not in coordinating]
    return ControlSheet(
        dossier=d.code,
        procedure=f"{proc.name} ({proc.code})",
        applicant=str(d.applicant.get("name", "")),
        receiving_unit=unit_name(d.receiving_unit, d.receiving_unit),
        received_at=d.received_at,
        appointment=d.appointment,
        resolving_unit=", ".join(unit_name(u, u) for u in lead) or "—",
        coordinating_units=coordinating,
        rows=tuple(rows),
        first_appointment=d.original_appointment,
        reappointments=tuple(reappointments),
    )


def _detail(event: str, stored: str) -> str:
    """What a row's GHI CHÚ says beside its kind: the next step's name for a handoff, the
    reason of a request, refusal, apology, withdrawal or pause; nothing for the others (the
    stored notes of a reception and a return are the engine's: procedure code, channel)."""
    if event in ("received", "returned"):
        return ""
    if event == "supplement_received":
        return "thời hạn giải quyết tính lại từ đầu"
    return stored


def _note(event: str, kind: str, detail: str, appointment: datetime | None) -> str:
    """The GHI CHÚ of a row in the text sheet: a handoff's next step; else the kind, the
    detail and the appointment the row set."""
    if event == "handoff":
        return detail
    out = f"{kind}: {detail}" if detail else kind
    if appointment is not None and event in _CAUSES:
        out += f"; hẹn trả {'lại ' if event == 'apology' else ''}{fmt_instant(appointment)}"
    return out


def _data(text: str) -> dict[str, Any]:
    """An audit row's ``data``, as the mapping it was written from (``{}`` for anything else)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):  # not JSON text: no capacity in it
        return {}
    return value if isinstance(value, dict) else {}
