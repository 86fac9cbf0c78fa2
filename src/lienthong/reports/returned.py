"""``returned``: the dossiers sent back to the applicant for a supplement (hồ sơ bị trả lại,
yêu cầu bổ sung, Mẫu 02) two or more times, with who asked and when.

Not to be confused with results handed over (trả kết quả, status 10). A dossier is listed when
one of its requests falls in the period and it has two or more in all; its requests are read
from its audit rows (the ``supplement_requested`` event), the facts no later command rewrites.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports.common import (
    Names,
    Period,
    as_db,
    check_procedure,
    check_unit,
    procedure_names,
)
from lienthong.status import Status

#: Listed from this many requests on.
TIMES = 2


@attrs.frozen
class SupplementRequest:
    """One request: when, which unit and officer asked, why, for what."""

    at: str
    unit: str
    unit_name: str
    officer: str
    name: str
    reason: str
    missing: tuple[str, ...]


@attrs.frozen
class ReturnedDossier:
    """A dossier sent back ``times`` times."""

    dossier: str
    procedure: str
    procedure_name: str
    status: int
    status_label: str
    times: int
    requests: tuple[SupplementRequest, ...]


def returned(
    db: sqlite_utils.Database | sqlite3.Connection | str | Path,
    *,
    org: Organisation | Names | None = None,
    period: Period | None = None,
    unit: str | None = None,
    procedure: str | None = None,
    times: int = TIMES,
) -> list[ReturnedDossier]:
    """The dossiers asked ``times`` or more times, in code order; ``unit`` keeps those that
    unit asked at least once."""
    db = as_db(db)
    names = Names.of(org, db)
    period = period or Period()
    check_unit(db, names, unit)
    check_procedure(db, procedure)
    extra, args = ("", []) if procedure is None else (" AND d.procedure_code = ?", [procedure])
    # The requests in the period, through audit_supplement_requested; the dossier's running
    # count (dossiers.supplements) leaves out at once those asked only once.
    candidates = db.conn.execute(
        "SELECT d.code, d.procedure_code, d.status FROM dossiers d WHERE d.code IN ("
        "SELECT a.dossier FROM audit a WHERE a.event = 'supplement_requested' "
        f"AND a.at >= ? AND a.at < ?) AND d.supplements >= ?{extra} ORDER BY d.code",
        [period.low, period.high, times, *args],
    ).fetchall()
    titles = procedure_names(db)
    out = []
    for code, proc, status in candidates:
        requests = tuple(
            SupplementRequest(
                at=at,
                unit=from_unit or "",
                unit_name=names.unit(from_unit),
                officer=officer or "",
                name=names.officer(officer),
                reason=note or "",
                missing=tuple(json.loads(data or "{}").get("missing", ())),
            )
            for at, from_unit, officer, note, data in db.conn.execute(
                "SELECT at, from_unit, from_officer, note, data FROM audit "
                "WHERE dossier = ? AND event = 'supplement_requested' ORDER BY id",
                [code],
            )
        )
        if len(requests) < times or (unit is not None and all(r.unit != unit for r in requests)):
            continue
        out.append(
            ReturnedDossier(
                dossier=code,
                procedure=proc,
                procedure_name=titles.get(proc, ""),
                status=status,
                status_label=Status(status).label,
                times=len(requests),
                requests=requests,
            )
        )
    return out
