"""Organisation: units (đơn vị) with their parent, head and deputies, and officers (cán bộ).

A BPMN lane names a *role* (``lienthong:unit-role``); the organisation says which unit holds it.
The same model takes a province's real data: load it from a TOML file of ``[[unit]]``,
``[[officer]]`` and ``[[delegation]]`` tables (see ``docs/organisation.md``) or build it in code.
Who may do what with these is decided in :mod:`lienthong.engine.permissions`.

:meth:`Organisation.to_data` and :meth:`Organisation.from_data` turn one into plain JSON data and
back, losing nothing; :func:`data_version` names that data by the SHA-256 of its canonical bytes,
so that the store keeps each organisation an engine ran with once (:mod:`lienthong.store.orgs`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from lienthong.errors import OrganisationError, did_you_mean


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


#: What a unit code (mã đơn vị) may be made of: the decree's codes are like 000.00.01.H29.
_UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: The organisation file's dates and local times are Vietnamese ones. (``org`` sits below
#: ``legaltime`` in the package's rooms, so it names the zone itself rather than import VN_TZ.)
_VN = ZoneInfo("Asia/Ho_Chi_Minh")


@attrs.frozen
class Delegation:
    """An authorisation (ủy quyền): from ``valid_from`` (included) to ``valid_to`` (excluded),
    ``to_officer`` may work the steps of ``unit`` as its own officers do.

    ``from_officer``, who signs it, must be the unit's head or one of its deputies: only a unit's
    leadership hands its authority on. A delegation does not make the delegate a head: what only
    the head and deputies may do (stopping a dossier for the agency) stays theirs.
    """

    from_officer: str
    to_officer: str
    unit: str
    valid_from: datetime
    valid_to: datetime
    reference: str = ""  # the decision that records it (số quyết định ủy quyền), for the reader

    def covers(self, at: datetime) -> bool:
        """The delegation is in force at the instant ``at``."""
        return self.valid_from <= at < self.valid_to

    def describe(self) -> str:
        """``from -> to for unit, valid_from – valid_to`` for messages."""
        return (
            f"{self.from_officer} -> {self.to_officer} for {self.unit}, "
            f"{self.valid_from.isoformat()} – {self.valid_to.isoformat()}"
        )


def _delegations(items: Iterable[Delegation]) -> tuple[Delegation, ...]:
    return tuple(items)


@attrs.frozen
class Organisation:
    """Units, officers and delegations, checked for consistency when built."""

    units: Mapping[str, Unit]
    officers: Mapping[str, Officer]
    delegations: tuple[Delegation, ...] = attrs.field(default=(), converter=_delegations)

    def __attrs_post_init__(self) -> None:
        # Lookups go by key, the stored data by code or id: two names for one entry would not
        # survive storing it.
        for key, u in self.units.items():
            if key != u.code:
                raise OrganisationError(f"unit {u.code!r} is keyed {key!r}: key it by its code")
            # It begins the codes of the dossiers the unit receives, which the national portal
            # and the forms carry, and is hashed into the audit's state digests the same way on
            # both stores only as plain ASCII. (Not text at all: refused when stored, naming it.)
            if isinstance(u.code, str) and not _UNIT_CODE.fullmatch(u.code):
                raise OrganisationError(
                    f"unit {u.code!r}: a unit code is ASCII letters, digits, '.', '-' and '_', "
                    "as 000.00.01.H29 (it begins the code of every dossier the unit receives)"
                )
        for key, o in self.officers.items():
            if key != o.id:
                raise OrganisationError(f"officer {o.id!r} is keyed {key!r}: key it by its id")
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
        for i, dg in enumerate(self.delegations, 1):
            _check_delegation(self, dg, f"delegation #{i} ({dg.from_officer} -> {dg.to_officer})")

    @classmethod
    def build(
        cls,
        units: Iterable[Unit],
        officers: Iterable[Officer],
        delegations: Iterable[Delegation] = (),
    ) -> Organisation:
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
        return cls(units=um, officers=om, delegations=tuple(delegations))

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
        if "delegations" in raw:  # the other tables are singular; say so rather than ignore it
            raise OrganisationError(
                f"{p}: [[delegations]]: write [[delegation]], like [[unit]] and [[officer]]"
            )
        _known(raw, _FILE_KEYS, str(p), "table")
        units, officers, delegations = [], [], []
        for i, row in enumerate(_tables(raw, "unit", p), 1):
            where = f"{p}: [[unit]] #{i}"
            _known(row, _FILE_KEYS["unit"], where)
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
            _known(row, _FILE_KEYS["officer"], where)
            _require(row, ("id", "name", "unit"), where)
            officers.append(
                Officer(
                    id=str(row["id"]),
                    name=str(row["name"]),
                    unit=str(row["unit"]),
                    title=str(row.get("title", "")),
                )
            )
        for i, row in enumerate(_tables(raw, "delegation", p), 1):
            where = f"{p}: [[delegation]] #{i}"
            _known(row, _FILE_KEYS["delegation"], where)
            _require(row, ("from_officer", "to_officer", "unit", "valid_from", "valid_to"), where)
            delegations.append(
                Delegation(
                    from_officer=str(row["from_officer"]),
                    to_officer=str(row["to_officer"]),
                    unit=str(row["unit"]),
                    valid_from=_instant(row["valid_from"], where, "valid_from", end=False),
                    valid_to=_instant(row["valid_to"], where, "valid_to", end=True),
                    reference=str(row.get("reference", "")),
                )
            )
        try:
            return cls.build(units, officers, delegations)
        except OrganisationError as e:
            raise OrganisationError(f"{p}: {e}") from None

    # -- as data -------------------------------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        """Everything the organisation holds as plain JSON data, in its order.

        ``{"format": 1, "units": [...], "officers": [...], "delegations": [...]}``, each entry
        a mapping of its fields (a unit's ``code``, ``name``, ``parent``, ``roles``, ``head``,
        ``deputies``; an officer's ``id``, ``name``, ``unit``, ``title``; a delegation's six),
        instants as ISO 8601 text in Vietnamese time. The order is kept, since it is the "file
        order" of :meth:`units_with_role`, :meth:`members` and :meth:`delegations_for`.
        :meth:`from_data` gives back an equal organisation. A field that is not text (a code
        built in code as an int) or not encodable as UTF-8 is an :class:`OrganisationError`:
        it could not be stored and read back.
        """
        return {
            "format": DATA_FORMAT,
            "units": [_entry_data(u, f"unit {u.code!r}") for u in self.units.values()],
            "officers": [_entry_data(o, f"officer {o.id!r}") for o in self.officers.values()],
            "delegations": [
                _entry_data(d, f"delegation #{i}") for i, d in enumerate(self.delegations, 1)
            ],
        }

    @classmethod
    def from_data(cls, data: object, where: str = "organisation data") -> Organisation:
        """The organisation :meth:`to_data` gave, checked as a file is; an error names ``where``
        and the entry (``units[3].name``). A key it does not know is refused, not dropped."""
        if not isinstance(data, Mapping):
            raise OrganisationError(f"{where}: expected a mapping, got {type(data).__name__}")
        if data.get("format") != DATA_FORMAT:
            raise OrganisationError(
                f"{where}: format {data.get('format')!r}: this lienthong reads {DATA_FORMAT}"
            )
        _keys(data, ("format", *_LISTS), where)
        entries: dict[str, list[Any]] = {}
        for key, kind in _LISTS.items():
            rows = data[key]
            if not isinstance(rows, list):
                raise OrganisationError(f"{where}: {key}: expected a list, got {rows!r}")
            entries[key] = [_entry_of(kind, r, f"{where}: {key}[{i}]") for i, r in enumerate(rows)]
        try:
            return cls.build(entries["units"], entries["officers"], entries["delegations"])
        except OrganisationError as e:
            raise OrganisationError(f"{where}: {e}") from None

    @property
    def version(self) -> str:
        """The SHA-256 of :meth:`to_data`'s canonical bytes (:func:`data_version`)."""
        return data_version(self.to_data())

    def with_entries(
        self, extra: Iterable[Unit | Officer], *, replace: bool = False
    ) -> Organisation:
        """This organisation with more units and officers (plugins' ``organisation_units``).

        An entry whose code or id is listed already is an error, or with ``replace`` takes that
        one's place: an organisation read back from the store already holds what the plugins
        added last time, and each entry goes back to its place (in its newer form, if any)."""
        units, officers = dict(self.units), dict(self.officers)
        new_units: list[Unit] = []
        new_officers: list[Officer] = []
        for x in extra:
            if isinstance(x, Unit):
                if replace and x.code in units:
                    units[x.code] = x
                else:
                    new_units.append(x)
            elif isinstance(x, Officer):
                if replace and x.id in officers:
                    officers[x.id] = x
                else:
                    new_officers.append(x)
        return Organisation.build(
            [*units.values(), *new_units], [*officers.values(), *new_officers], self.delegations
        )

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
        return o.unit == unit_code or self.is_head_or_deputy(officer_id, unit_code)

    def is_head_or_deputy(self, officer_id: str, unit_code: str) -> bool:
        """The officer is the unit's head or one of its deputies (lãnh đạo đơn vị)."""
        u = self.unit(unit_code)
        return officer_id == u.head or officer_id in u.deputies

    def delegations_for(self, unit_code: str, at: datetime) -> list[Delegation]:
        """The delegations to act for the unit that are in force at ``at``, in file order."""
        return [d for d in self.delegations if d.unit == unit_code and d.covers(at)]

    def delegated(self, officer_id: str, unit_code: str, at: datetime) -> Delegation | None:
        """The delegation in force at ``at`` that lets the officer act for the unit, if any."""
        for d in self.delegations_for(unit_code, at):
            if d.to_officer == officer_id:
                return d
        return None


#: The layout of :meth:`Organisation.to_data`; a change of layout gets the next number.
DATA_FORMAT = 1
_LISTS: dict[str, type] = {"units": Unit, "officers": Officer, "delegations": Delegation}


def canonical_bytes(data: Mapping[str, Any]) -> bytes:
    """The one byte form of organisation data: compact UTF-8 JSON, keys sorted, lists in order."""
    return json.dumps(
        data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def data_version(data: Mapping[str, Any]) -> str:
    """The version of organisation data: the SHA-256 of :func:`canonical_bytes`, in hex."""
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def _kind(field: attrs.Attribute[Any]) -> str:
    """How an entry's field is kept: its default says (None: optional text, (): texts)."""
    if field.name in ("valid_from", "valid_to"):
        return "instant"
    if field.default is None:
        return "optional"
    return "texts" if field.default == () else "text"


_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _fields(kind: type) -> tuple[tuple[str, str], ...]:
    """(name, how it is kept) of each field of an entry class, worked out once."""
    found = _FIELDS.get(kind)
    if found is None:
        found = _FIELDS[kind] = tuple((f.name, _kind(f)) for f in attrs.fields(kind))
    return found


def _text(value: object, where: str) -> str:
    if type(value) is not str:
        raise OrganisationError(f"{where}: expected text, got {type(value).__name__} {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise OrganisationError(
            f"{where}: text has a lone surrogate {value[e.start]!r} at position {e.start} "
            "(not encodable as UTF-8)"
        ) from None
    return value


def _plain(value: object) -> bool:
    """Text that JSON and SQLite keep as it is (the common case, checked without a message)."""
    if type(value) is not str:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _entry_data(entry: Unit | Officer | Delegation, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in _fields(type(entry)):
        v = getattr(entry, name)
        if kind == "text" or kind == "optional":
            if _plain(v) or (v is None and kind == "optional"):
                out[name] = v
            else:
                _text(v, f"{where}: {name}")  # raises, naming it
        elif kind == "texts":
            if not isinstance(v, tuple | list):
                raise OrganisationError(f"{where}: {name}: expected a tuple of texts, got {v!r}")
            if not all(_plain(x) for x in v):
                for i, x in enumerate(v):
                    _text(x, f"{where}: {name}[{i}]")
            out[name] = list(v)
        else:
            try:  # one text for one instant, whatever zone it was built in
                out[name] = v.astimezone(_VN).isoformat()
            except OverflowError:  # an instant with no Vietnamese form (the end of time)
                out[name] = v.isoformat()
    return out


def _keys(row: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    keys = list(keys)
    unknown = sorted(str(k) for k in row if k not in keys)
    missing = [k for k in keys if k not in row]
    if unknown or missing:
        what = [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        what += [f"missing {', '.join(missing)}"] if missing else []
        raise OrganisationError(f"{where}: {'; '.join(what)}")


def _entry_of(kind: type, row: object, where: str) -> Any:
    if not isinstance(row, Mapping):
        raise OrganisationError(f"{where}: expected a mapping, got {type(row).__name__}")
    fields = _fields(kind)
    if len(row) != len(fields) or not all(name in row for name, _ in fields):
        _keys(row, (name for name, _ in fields), where)
    values: dict[str, Any] = {}
    for name, how in fields:
        v = row[name]
        if how == "text" or how == "optional":
            if _plain(v) or (v is None and how == "optional"):
                values[name] = v
            else:
                _text(v, f"{where}.{name}")  # raises, naming it
        elif how == "texts":
            if not isinstance(v, list) or not all(_plain(x) for x in v):
                if not isinstance(v, list) or not all(type(x) is str for x in v):
                    raise OrganisationError(f"{where}.{name}: expected a list of texts, got {v!r}")
                for i, x in enumerate(v):
                    _text(x, f"{where}.{name}[{i}]")
            values[name] = tuple(v)
        else:
            try:
                t = datetime.fromisoformat(v) if type(v) is str else None
            except ValueError:
                t = None
            if t is None or t.tzinfo is None:
                raise OrganisationError(
                    f"{where}.{name}: expected an ISO 8601 instant with offset: {v!r}"
                )
            try:
                values[name] = t.astimezone(_VN)
            except OverflowError:
                values[name] = t
    return kind(**values)


def _check_delegation(org: Organisation, dg: Delegation, where: str) -> None:
    if dg.unit not in org.units:
        raise OrganisationError(f"{where}: unit {dg.unit!r} is not a unit")
    for who in (dg.from_officer, dg.to_officer):
        if who not in org.officers:
            raise OrganisationError(f"{where}: officer {who!r} is not listed")
    if dg.from_officer == dg.to_officer:
        raise OrganisationError(f"{where}: an officer cannot delegate to themselves")
    if not org.is_head_or_deputy(dg.from_officer, dg.unit):
        u = org.units[dg.unit]
        raise OrganisationError(
            f"{where}: {dg.from_officer} is not the head or a deputy of {dg.unit}: only "
            f"{', '.join([*([u.head] if u.head else []), *u.deputies]) or 'its leadership'} "
            "may delegate its work"
        )
    for name in ("valid_from", "valid_to"):
        t = getattr(dg, name)
        if not isinstance(t, datetime) or t.tzinfo is None:
            raise OrganisationError(f"{where}: {name} must be a timezone-aware datetime")
    if dg.valid_to <= dg.valid_from:
        raise OrganisationError(
            f"{where}: valid_to {dg.valid_to.isoformat()} is not after valid_from "
            f"{dg.valid_from.isoformat()}"
        )


def _instant(value: object, where: str, key: str, *, end: bool) -> datetime:
    """A TOML date or datetime as an aware instant. A date is a whole Vietnamese day: from its
    00:00 for ``valid_from``, through its end (the next day's 00:00) for ``valid_to``, as a
    decision "từ ngày 3/3 đến ngày 7/3" includes 7/3. A datetime without an offset is
    Vietnamese local time."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_VN)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time(0, 0), tzinfo=_VN)
    raise OrganisationError(
        f"{where}: {key} must be a TOML date (2025-03-03) or datetime "
        f"(2025-03-03T08:00:00+07:00), not {value!r}"
    )


#: The keys an organisation file may hold: its tables, and each table's keys.
_FILE_KEYS = {
    "unit": ("code", "name", "parent", "roles", "head", "deputies"),
    "officer": ("id", "name", "unit", "title"),
    "delegation": ("from_officer", "to_officer", "unit", "valid_from", "valid_to", "reference"),
}


def _known(row: Mapping[str, object], keys: Iterable[str], where: str, what: str = "key") -> None:
    """A key the file format does not have is refused, with the nearest one it has: a
    misspelt ``parnet`` would otherwise leave the unit without its parent, silently."""
    for k in row:
        if k not in keys:
            raise OrganisationError(
                f"{where}: unknown {what} {k!r}{did_you_mean(str(k), keys)} (known: "
                f"{', '.join(keys)})"
            )


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
