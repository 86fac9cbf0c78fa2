"""Organisation: units (đơn vị) with their parent, head and deputies, and officers (cán bộ).

A BPMN lane names a *role* (``lienthong:unit-role``); the organisation says which unit holds it.
The same model takes a province's real data: load it from a TOML file of ``[[unit]]`` and
``[[officer]]`` tables (see ``docs/organisation.md``) or build it in code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path

import attrs

from lienthong.errors import OrganisationError


@attrs.frozen
class Unit:
    """An organisational unit: its code (mã đơn vị) prefixes the dossiers it receives."""

    code: str
    name: str
    parent: str | None = None
    roles: tuple[str, ...] = ()
    head: str | None = None
    deputies: tuple[str, ...] = ()


@attrs.frozen
class Officer:
    """A person who works in one unit."""

    id: str
    name: str
    unit: str
    title: str = ""


@attrs.frozen
class Organisation:
    """Units and officers, checked for consistency when built."""

    units: Mapping[str, Unit]
    officers: Mapping[str, Officer]

    def __attrs_post_init__(self) -> None:
        for u in self.units.values():
            if u.parent and u.parent not in self.units:
                raise OrganisationError(f"unit {u.code}: parent {u.parent!r} is not a unit")
            for who in ([u.head] if u.head else []) + list(u.deputies):
                if who not in self.officers:
                    raise OrganisationError(f"unit {u.code}: officer {who!r} is not listed")
        for o in self.officers.values():
            if o.unit not in self.units:
                raise OrganisationError(f"officer {o.id}: unit {o.unit!r} is not a unit")
        for u in self.units.values():  # a cycle would make escalation loop for ever
            seen = {u.code}
            p = u.parent
            while p:
                if p in seen:
                    raise OrganisationError(f"unit {u.code}: its parents form a cycle")
                seen.add(p)
                p = self.units[p].parent

    @classmethod
    def build(cls, units: Iterable[Unit], officers: Iterable[Officer]) -> Organisation:
        """Build from lists; a code or id given twice is an error."""
        um: dict[str, Unit] = {}
        for u in units:
            if u.code in um:
                raise OrganisationError(f"unit {u.code!r} is listed twice")
            um[u.code] = u
        om: dict[str, Officer] = {}
        for o in officers:
            if o.id in om:
                raise OrganisationError(f"officer {o.id!r} is listed twice")
            om[o.id] = o
        return cls(units=um, officers=om)

    @classmethod
    def from_file(cls, path: str | Path) -> Organisation:
        """Load a TOML organisation file; errors name the file and the entry."""
        if not isinstance(path, str | PathLike):
            raise OrganisationError(f"an organisation file is a path, not {type(path).__name__}")
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OrganisationError(f"{p}: no such organisation file") from None
        except tomllib.TOMLDecodeError as e:
            raise OrganisationError(f"{p}: not valid TOML: {e}") from None
        except (OSError, UnicodeDecodeError) as e:  # a folder, say, or a file not in UTF-8
            raise OrganisationError(f"{p}: cannot read: {e}") from None
        except ValueError as e:  # a NUL or a lone surrogate in the path: repr() prints it
            raise OrganisationError(f"{str(p)!r}: cannot read: {e}") from None
        units, officers = [], []
        for i, row in enumerate(_tables(raw, "unit", p), 1):
            where = f"{p}: [[unit]] #{i}"
            _require(row, ("code", "name"), where)
            units.append(
                Unit(
                    code=str(row["code"]),
                    name=str(row["name"]),
                    parent=str(row.get("parent") or "") or None,
                    roles=_texts(row, "roles", where),
                    head=str(row.get("head") or "") or None,
                    deputies=_texts(row, "deputies", where),
                )
            )
        for i, row in enumerate(_tables(raw, "officer", p), 1):
            where = f"{p}: [[officer]] #{i}"
            _require(row, ("id", "name", "unit"), where)
            officers.append(
                Officer(
                    id=str(row["id"]),
                    name=str(row["name"]),
                    unit=str(row["unit"]),
                    title=str(row.get("title", "")),
                )
            )
        try:
            return cls.build(units, officers)
        except OrganisationError as e:
            raise OrganisationError(f"{p}: {e}") from None

    # -- lookups -------------------------------------------------------------------------------
    def unit(self, code: str) -> Unit:
        """The unit with that code, or a clear error."""
        try:
            return self.units[code]
        except KeyError:
            raise OrganisationError(f"unknown unit {code!r}") from None

    def officer(self, officer_id: str) -> Officer:
        """The officer with that id, or a clear error."""
        try:
            return self.officers[officer_id]
        except KeyError:
            raise OrganisationError(f"unknown officer {officer_id!r}") from None

    def ancestors(self, code: str) -> list[str]:
        """The unit's parent, grandparent, ... up to the top (the unit itself excluded)."""
        out = []
        p = self.unit(code).parent
        while p:
            out.append(p)
            p = self.units[p].parent
        return out

    def units_with_role(self, role: str) -> list[Unit]:
        """Every unit that holds ``role``, in file order."""
        return [u for u in self.units.values() if role in u.roles]

    def resolve_role(self, role: str, near: str | None = None) -> Unit:
        """The unit that works ``role`` for a dossier received at ``near``.

        One unit with the role: that one. Several: the one closest to ``near`` in the hierarchy
        (the fewest steps up from ``near`` to a common ancestor); a tie is an error.
        """
        cands = self.units_with_role(role)
        if not cands:
            raise OrganisationError(f"no unit holds the role {role!r}")
        if len(cands) == 1 or near is None:
            if len(cands) > 1:
                raise OrganisationError(
                    f"several units hold the role {role!r}: "
                    f"{', '.join(u.code for u in cands)}; give a routing for it"
                )
            return cands[0]
        chain = [near, *self.ancestors(near)]

        def distance(u: Unit) -> int:
            own = [u.code, *self.ancestors(u.code)]
            for i, c in enumerate(chain):
                if c in own:
                    return i + own.index(c)
            return 10**6

        ranked = sorted(cands, key=distance)
        if distance(ranked[0]) == distance(ranked[1]):
            raise OrganisationError(
                f"units {ranked[0].code} and {ranked[1].code} both hold the role {role!r} "
                f"at the same distance from {near}; give a routing for it"
            )
        return ranked[0]

    def members(self, code: str) -> list[Officer]:
        """Officers of the unit."""
        return [o for o in self.officers.values() if o.unit == code]

    def may_act_for(self, officer_id: str, unit_code: str) -> bool:
        """An officer acts for a unit they belong to, or one whose head or deputy they are."""
        o = self.officer(officer_id)
        if o.unit == unit_code:
            return True
        u = self.unit(unit_code)
        return officer_id == u.head or officer_id in u.deputies


def _require(row: Mapping[str, object], keys: tuple[str, ...], where: str) -> None:
    for k in keys:
        if not row.get(k):
            raise OrganisationError(f"{where}: missing {k!r}")


def _tables(raw: Mapping[str, object], key: str, p: Path) -> list[Mapping[str, object]]:
    rows = raw.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise OrganisationError(f"{p}: {key!r} must be an array of tables ([[{key}]])")
    return rows


def _texts(row: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OrganisationError(f"{where}: {key!r} must be a list of texts")
    return tuple(value)
