"""Builds the process control sheet (phiếu kiểm soát, Mẫu 06) of a dossier from its audit rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audit import SHEET_EVENTS, ControlSheet, SheetRow, result_label
from .records import parse_instant

if TYPE_CHECKING:
    from .engine import Engine

_NOTES = {
    "received": "Tiếp nhận hồ sơ",
    "returned": "Trả kết quả",
    "refused": "Từ chối tiếp nhận (Mẫu 03)",
    "withdrawn": "Rút hồ sơ / dừng xử lý (Mẫu 05)",
}


def control_sheet(engine: Engine, code: str) -> ControlSheet:
    """The dossier's sheet: one row per handoff and per reception, return or pause, in order."""
    d = engine.dossier(code)
    proc = engine.procedure(d.procedure_version)

    def unit_name(c: str | None, fallback: str) -> str:
        if not c:
            return fallback
        u = engine.org.units.get(c)
        return f"{u.name} ({c})" if u else c

    def officer_name(o: str | None) -> str:
        if not o:
            return ""
        if o == "system":  # a service step, closed by its plugin
            return "Hệ thống (system)"
        off = engine.org.officers.get(o)
        return off.name if off else o

    # The audit row of a handoff is written when the step opens, often before anyone took it;
    # the officer who took (or closed) that step is the one who received it (Người nhận).
    steps = {st.id: st for st in engine.steps(code)}

    def receiver(r: dict[str, Any]) -> str:
        if r["to_officer"]:
            return officer_name(r["to_officer"])
        st = steps.get(r["step_id"]) if r["event"] in ("handoff", "received") else None
        if st is None or st.unit != r["to_unit"]:
            return ""
        return officer_name(st.assignee or (st.closed_by if st.closed_by != "system" else None))

    rows = []
    for r in engine.audit_rows(code):
        if r["event"] not in (*SHEET_EVENTS, "refused"):
            continue
        at = parse_instant(r["at"])
        assert at is not None
        receiver_default = "(chờ)" if r["event"] == "handoff" else "Người nộp hồ sơ"
        rows.append(
            SheetRow(
                giver=unit_name(r["from_unit"], "Người nộp hồ sơ"),
                receiver=unit_name(r["to_unit"], receiver_default),
                at=at,
                giver_officer=officer_name(r["from_officer"]),
                receiver_officer=receiver(r),
                result=result_label(r["result_class"]),
                note=r["note"]
                if r["event"] == "handoff"
                else _NOTES.get(r["event"], r["note"] or ""),
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
