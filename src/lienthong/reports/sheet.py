"""The process control sheet (phiếu kiểm soát quá trình giải quyết hồ sơ, Mẫu 06) of a dossier,
built from its audit rows in the store.
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

    def render(self) -> str:
        """The sheet as text, with the Mẫu 06 headings."""
        out = [
            "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
            f"Mã hồ sơ: {self.dossier}",
            f"Thủ tục: {self.procedure}",
            f"Kèm theo hồ sơ của: {self.applicant}",
            f"Ngày nhận: {fmt_instant(self.received_at)}",
            f"Ngày, giờ hẹn trả kết quả: {fmt_instant(self.appointment)}",
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


_NOTES = {
    "received": "Tiếp nhận hồ sơ",
    "returned": "Trả kết quả",
    "refused": "Từ chối tiếp nhận (Mẫu 03)",
    "withdrawn": "Rút hồ sơ / dừng xử lý (Mẫu 05)",
}


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
            return "Hệ thống (system)"
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

    rows = []
    for r in audit_rows:
        if r["event"] not in (*SHEET_EVENTS, "refused"):
            continue
        taker = receiver_id(r)
        giver_acting, receiver_acting = labels(r, taker)
        at = parse_instant(r["at"])
        assert at is not None
        receiver_default = "(chờ)" if r["event"] == "handoff" else "Người nộp hồ sơ"
        rows.append(
            SheetRow(
                giver=unit_name(r["from_unit"], "Người nộp hồ sơ"),
                receiver=unit_name(r["to_unit"], receiver_default),
                at=at,
                giver_officer=officer_name(r["from_officer"]),
                receiver_officer=officer_name(taker),
                result=result_label(r["result_class"]),
                note=r["note"]
                if r["event"] == "handoff"
                else _NOTES.get(r["event"], r["note"] or ""),
                giver_acting=giver_acting,
                receiver_acting=receiver_acting,
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
    )


def _data(text: str) -> dict[str, Any]:
    """An audit row's ``data``, as the mapping it was written from (``{}`` for anything else)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):  # not JSON text: no capacity in it
        return {}
    return value if isinstance(value, dict) else {}
