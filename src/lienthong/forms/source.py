"""What the forms read: the store's dossiers, steps, audit rows and procedures, and the names
and titles of the organisations it keeps, in one snapshot.

A form is a picture of what is stored (DESIGN.md, "How data flows" 6): it never loads a
workflow and never writes. Officers are printed by name and title, from the organisation given
(``--org``), else the one stored last, with :func:`lienthong.store.orgs.names` for those who
have left since: never by their user id.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from lienthong.bpmn.procedures import Procedure, procedure_from_store
from lienthong.errors import UnknownProcedure
from lienthong.org import Organisation
from lienthong.reports.common import as_db
from lienthong.reports.sheet import APPLICANT, SYSTEM, ControlSheet, control_sheet
from lienthong.store import audit, orgs, tables
from lienthong.store.records import Dossier, Step

#: A head with no title in the organisation file signs as the head of the agency.
HEAD = "Thủ trưởng cơ quan"


@attrs.frozen
class Agency:
    """The left column of a form's heading: the agency (tên cơ quan) under its parent (tên
    cơ quan chủ quản, ``""`` for a top unit or one whose parent is not known)."""

    code: str
    name: str
    parent: str = ""


@attrs.frozen
class Person:
    """An officer as a form names them: ``name`` (họ tên), ``title`` (chức vụ, ``""`` when not
    known), ``unit`` (the code of their unit, ``""`` when not known)."""

    id: str
    name: str
    title: str = ""
    unit: str = ""


@attrs.frozen
class Signature:
    """A signature block (phần ký): ``capacity`` the lines above the signature (``KT. GIÁM ĐỐC``
    / ``PHÓ GIÁM ĐỐC`` for a deputy signing for the head), ``name`` below it (``""``: the
    dotted blank a clerk fills by hand)."""

    capacity: tuple[str, ...]
    name: str
    note: str = "(Ký, ghi rõ họ tên)"


class Source:
    """The store as the forms read it: one database, the organisation, the names."""

    def __init__(
        self,
        db: sqlite_utils.Database | sqlite3.Connection | str | Path,
        org: Organisation | None = None,
    ) -> None:
        self.db = as_db(db)
        if org is None:
            stored = orgs.current(self.db)
            org = Organisation.from_data(stored, "the stored organisation") if stored else None
        self.org = org
        names = orgs.names(self.db)
        self.names = names | orgs.Names.of(org) if org is not None else names
        self._records = tables.Records()
        self._procedures: dict[str, Procedure] = {}

    # -- what is stored ----------------------------------------------------------------------
    def dossier(self, code: str) -> Dossier:
        """The dossier; :class:`~lienthong.errors.DossierNotFound` names an unknown code."""
        return self._records.dossier(self.db, code)

    def steps(self, code: str) -> list[Step]:
        return self._records.steps_of(self.db, code)

    def audit(self, code: str) -> list[dict[str, Any]]:
        return audit.rows_for(self.db, code)

    def received_between(self, low: str, high: str, unit: str | None) -> list[Dossier]:
        return self._records.received_between(self.db, low, high, unit)

    def procedure(self, version: str) -> Procedure:
        """The procedure version a dossier was received under, read back from the BPMN the store
        keeps (parsed once per version)."""
        found = self._procedures.get(version)
        if found is None:
            stored = tables.procedure_source(self.db, version)
            if stored is None:
                raise UnknownProcedure(f"procedure version {version[:12]} is not stored")
            found = self._procedures[version] = procedure_from_store(stored[0], name=stored[1])
        return found

    def sheet(self, code: str) -> ControlSheet:
        """The control sheet (Mẫu 06) as :func:`lienthong.reports.sheet.control_sheet` builds it."""
        return control_sheet(self.db, self.names, self.procedure, code)

    # -- names -------------------------------------------------------------------------------
    def unit_name(self, code: str | None) -> str:
        """The unit's name, or its code if no organisation ever named it."""
        return self.names.unit(code) if code else ""

    def agency(self, code: str) -> Agency:
        """The heading of a form the unit issues."""
        parent = ""
        if self.org is not None and code in self.org.units:
            p = self.org.units[code].parent
            parent = self.unit_name(p) if p else ""
        return Agency(code=code, name=self.unit_name(code), parent=parent)

    def person(self, officer_id: str | None) -> Person | None:
        """An officer by name and title; ``None`` for nobody (or the applicant)."""
        if not officer_id or officer_id == APPLICANT:
            return None
        if officer_id == "system":
            return Person(id="system", name=SYSTEM)
        title, unit = "", self.names.unit_of(officer_id) or ""
        if self.org is not None and officer_id in self.org.officers:
            o = self.org.officers[officer_id]
            title, unit = o.title, o.unit
        return Person(id=officer_id, name=self.names.officer(officer_id), title=title, unit=unit)

    def signature(self, officer_id: str | None, unit: str | None, *, clerk: str = "") -> Signature:
        """The signature block of ``officer_id`` signing for ``unit``.

        The head signs under their title; a deputy "KT." (ký thay) under the head's title, then
        their own; anyone else, under ``clerk`` (``NGƯỜI TIẾP NHẬN HỒ SƠ``) if given, else their
        title. Nobody known: ``clerk`` (or the head's title) over a blank name.
        """
        p = self.person(officer_id)
        u = self.org.units.get(unit) if self.org is not None and unit else None
        head_title = HEAD
        if u is not None and u.head and self.org is not None and u.head in self.org.officers:
            head_title = self.org.officers[u.head].title or HEAD
        if p is None:
            return Signature(capacity=(clerk or head_title,), name="")
        if u is not None and p.id == u.head:
            return Signature(capacity=(p.title or HEAD,), name=p.name)
        if u is not None and p.id in u.deputies:
            return Signature(capacity=(f"KT. {head_title}", p.title or "Cấp phó"), name=p.name)
        return Signature(capacity=(clerk or p.title or "Người thực hiện",), name=p.name)
