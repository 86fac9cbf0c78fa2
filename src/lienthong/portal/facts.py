"""What a dossier's portal record and its progress records are built from, read once from the
store in one snapshot: the dossier row, its steps, its audit rows, the procedure version's name
and lanes, and the names and titles of the units and officers it mentions.

Nothing here reads a workflow: like the reports, the portal payload is a function of the tables,
so it is the same whether an engine builds it after a command or a script builds it from a copy
of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from lienthong.org import Organisation
from lienthong.reports.common import as_db
from lienthong.reports.lanes import lanes_of
from lienthong.store import audit, orgs, tables
from lienthong.store.records import Dossier, Step
from lienthong.store.tables import Records

#: Who the audit names as the other side of a handoff with the applicant (the engine writes
#: ``lienthong.engine.context.APPLICANT``; a test keeps the two equal).
APPLICANT = "Người nộp hồ sơ"

#: What the portal payload may be built from: a database (a sqlite-utils ``Database``, a
#: ``sqlite3`` connection or a path, opened read-only) or an object with a ``db`` (an Engine).
Source = Any

#: Lanes by procedure version. A version is the SHA-256 of its BPMN file, so what it maps to
#: never changes; the engine builds a payload after every command, and parsing the file each
#: time would cost more than the rest of the payload.
_LANES: dict[str, dict[str, bool]] = {}
_LANES_SIZE = 64


@attrs.frozen
class Facts:
    """One dossier as the store holds it, with the names the payload shows beside codes."""

    dossier: Dossier
    steps: Mapping[int, Step]
    audit: tuple[Mapping[str, Any], ...]
    procedure_name: str
    #: Lane role -> coordinating (cơ quan phối hợp), in the BPMN file's order.
    lanes: Mapping[str, bool]
    names: orgs.Names
    #: Officer id -> title (chức danh), from the current organisation.
    titles: Mapping[str, str]

    def unit_name(self, code: str | None) -> str | None:
        """The unit's name (its code when no organisation names it), or ``None``."""
        return self.names.unit(code) if code else None

    def officer_name(self, officer: str | None) -> str | None:
        """The officer's name; ``Hệ thống`` for a service step's plugin; ``None`` for none."""
        if not officer:
            return None
        if officer == "system":
            return "Hệ thống"
        return self.names.officer(officer)

    def title(self, officer: str | None) -> str | None:
        """The officer's title (chức danh), or ``None`` when the organisation gives none."""
        return self.titles.get(officer or "") or None


@attrs.frozen
class Naming:
    """The names and titles a payload shows, read once for many dossiers (:func:`naming`)."""

    names: orgs.Names
    titles: Mapping[str, str]


def naming(db: sqlite_utils.Database, org: Organisation | None = None) -> Naming:
    """Unit and officer names from every organisation stored, officers' titles from the
    current one; ``org``'s win."""
    names = orgs.names(db)
    titles: dict[str, str] = {}
    for o in (orgs.current(db) or {}).get("officers", ()):
        if isinstance(o, Mapping) and o.get("title"):
            titles[str(o.get("id"))] = str(o["title"])
    if org is not None:
        names = names | orgs.Names.of(org)
        titles.update({o.id: o.title for o in org.officers.values() if o.title})
    return Naming(names, titles)


def read(
    source: Source,
    code: str,
    *,
    org: Organisation | None = None,
    named: Naming | None = None,
    records: Records | None = None,
) -> Facts:
    """The facts of dossier ``code`` (:class:`~lienthong.errors.DossierNotFound` if it has
    none). ``org``, or the engine's own organisation when ``source`` is an engine, names units
    and officers where the organisations stored in the database do not (its names win).
    ``named`` (:func:`naming`) and ``records`` (a reader that keeps what it built) are for a
    caller that reads many dossiers: the engine, after every command."""
    db, owned, org = _database(source, org)
    try:
        with audit.snapshot(db):
            return _read(db, code, named or naming(db, org), records or Records())
    finally:
        if owned:
            db.conn.close()


def _database(
    source: Source, org: Organisation | None
) -> tuple[sqlite_utils.Database, bool, Organisation | None]:
    """The database, whether this module opened it (and must close it), the organisation."""
    inner = getattr(source, "db", None)
    if isinstance(inner, sqlite_utils.Database):  # an Engine
        found = getattr(source, "org", None)
        return inner, False, org or (found if isinstance(found, Organisation) else None)
    owned = isinstance(source, str | Path)
    return as_db(source), owned, org


def _read(db: sqlite_utils.Database, code: str, named: Naming, records: Records) -> Facts:
    d = records.dossier(db, code)
    return Facts(
        dossier=d,
        steps={s.id: s for s in records.steps_of(db, code)},
        audit=tuple(audit.rows_for(db, code)),
        procedure_name=tables.procedure_name(db, d.procedure_version) or "",
        lanes=_lanes(db, d.procedure_version),
        names=named.names,
        titles=named.titles,
    )


def _lanes(db: sqlite_utils.Database, version: str) -> dict[str, bool]:
    found = _LANES.get(version)
    if found is None:
        source = tables.procedure_source(db, version)
        found = lanes_of(bytes(source[0])) if source else {}
        if len(_LANES) >= _LANES_SIZE:
            _LANES.clear()
        _LANES[version] = found
    return found
