"""The organisations engines ran with (tổ chức: đơn vị, cán bộ), each version stored once.

An :class:`~lienthong.engine.Engine` stores its organisation (its file plus what plugins added)
when it opens the store: :func:`save`, in a transaction of its own. The version is
:func:`lienthong.org.data_version` of :meth:`~lienthong.org.Organisation.to_data`, as a
procedure's is the SHA-256 of its BPMN file. A version made current again (a deployment went back
to an earlier file) is not stored twice: it becomes the current one again.

Readers that only name things (the control sheet, the reports) use :func:`names`, which merges
every version: an officer who has left, or a unit renamed or merged away, still shows under the
name it had. :func:`save` keeps that merge in the table ``organisation_names`` (``kind`` 'unit' or
'officer', ``key`` the code or id, ``name``, ``unit`` an officer's), which a report may also join
in SQL. Every function takes the connection of the caller's transaction (or any connection:
they only read, except :func:`save`), and treats a database written before migration 006, opened
read-only, as one with no organisation stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import sqlite_utils

from lienthong.errors import LienthongError, StoreError
from lienthong.org import Organisation, canonical_bytes, data_version
from lienthong.store.records import parse_instant


@attrs.frozen
class Names:
    """Names to show for the codes and ids stored in dossiers, steps and the audit.

    - ``units``: unit code (mã đơn vị) -> its name (tên đơn vị);
    - ``officers``: officer id -> their name (họ tên cán bộ);
    - ``officer_units``: officer id -> the code of the unit they belonged to.

    Built by :func:`names` from every stored organisation version, or by :meth:`of` from one
    organisation; ``a | b`` is ``a`` with ``b``'s entries winning, as for dicts.
    """

    units: Mapping[str, str] = attrs.field(factory=dict)
    officers: Mapping[str, str] = attrs.field(factory=dict)
    officer_units: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def of(cls, org: Organisation) -> Names:
        """The names one organisation gives."""
        return cls(
            units={u.code: u.name for u in org.units.values()},
            officers={o.id: o.name for o in org.officers.values()},
            officer_units={o.id: o.unit for o in org.officers.values()},
        )

    def __or__(self, newer: Names) -> Names:
        return Names(
            units={**self.units, **newer.units},
            officers={**self.officers, **newer.officers},
            officer_units={**self.officer_units, **newer.officer_units},
        )

    def unit(self, code: str) -> str:
        """The unit's name, or its code if no stored organisation ever had it."""
        return self.units.get(code, code)

    def officer(self, officer_id: str) -> str:
        """The officer's name, or their id if no stored organisation ever had them."""
        return self.officers.get(officer_id, officer_id)

    def unit_of(self, officer_id: str) -> str | None:
        """The code of the officer's unit (in the latest version that lists them)."""
        return self.officer_units.get(officer_id)


@attrs.frozen
class StoredVersion:
    """One stored organisation version: its hash, when it last became current, and in what
    order (``seq``: the highest is the current one)."""

    version: str
    loaded_at: datetime
    seq: int


def save(db: sqlite_utils.Database, org_data: Mapping[str, Any], version: str, now: str) -> bool:
    """Make ``org_data`` (what :meth:`Organisation.to_data` gave) the current organisation.

    Stored once per version: if it is the current one already, nothing is written; if it was
    stored before, it becomes current again (``loaded_at`` = ``now``, the next ``seq``).
    Returns whether anything changed. ``version`` must be :func:`data_version` of the data.
    """
    text = canonical_bytes(org_data).decode("utf-8")
    if data_version(org_data) != version:
        raise LienthongError(f"organisation version {version} is not the hash of its data")
    if current_version(db) == version:
        return False
    seq = db.conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM organisations").fetchone()[0]
    db.conn.execute(
        "INSERT INTO organisations (version, data, loaded_at, seq) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (version) DO UPDATE SET loaded_at = excluded.loaded_at, seq = excluded.seq",
        [version, text, now, seq],
    )
    # This version is now the latest made current: its names win over every earlier one's.
    entries = [("unit", u["code"], u["name"], None, seq) for u in org_data["units"]]
    entries += [("officer", o["id"], o["name"], o["unit"], seq) for o in org_data["officers"]]
    db.conn.executemany(
        "INSERT INTO organisation_names (kind, key, name, unit, seq) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, key) DO UPDATE SET name = excluded.name, unit = excluded.unit, "
        "seq = excluded.seq",
        entries,
    )
    return True


def current_version(db: sqlite_utils.Database) -> str | None:
    """The version of the current organisation (the last made current), or ``None``."""
    if not _has_table(db):
        return None
    row = db.conn.execute("SELECT version FROM organisations ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else None


def current(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The current organisation's data (for :meth:`Organisation.from_data`), or ``None`` if
    none is stored."""
    if not _has_table(db):
        return None
    row = db.conn.execute(
        "SELECT version, data FROM organisations ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return _parse(row[0], row[1]) if row else None


def data_of(db: sqlite_utils.Database, version: str) -> dict[str, Any] | None:
    """A stored version's data, or ``None`` if that version is not stored."""
    if not _has_table(db):
        return None
    row = db.conn.execute("SELECT data FROM organisations WHERE version = ?", [version]).fetchone()
    return _parse(version, row[0]) if row else None


def all_versions(db: sqlite_utils.Database) -> list[StoredVersion]:
    """Every stored version, in the order they last became current (the current one last)."""
    if not _has_table(db):
        return []
    out = []
    for version, loaded_at, seq in db.conn.execute(
        "SELECT version, loaded_at, seq FROM organisations ORDER BY seq"
    ):
        at = parse_instant(loaded_at)
        assert at is not None
        out.append(StoredVersion(version=version, loaded_at=at, seq=seq))
    return out


def names(db: sqlite_utils.Database) -> Names:
    """Unit code -> name, officer id -> name and officer id -> unit, merged over every stored
    version, the one made current most recently winning where several list an entry.

    So an officer removed from the current organisation (who left, or moved) still shows under
    the name, and in the unit, of the latest version that listed them; a code no version ever
    listed is not in the maps (:meth:`Names.unit` and :meth:`Names.officer` then give the code
    itself). An empty :class:`Names` if no organisation is stored. One read of the table
    :func:`save` keeps merged (``organisation_names``): its cost grows with the units and
    officers ever listed, not with the number of versions; a report calls it once.
    """
    units: dict[str, str] = {}
    officers: dict[str, str] = {}
    officer_units: dict[str, str] = {}
    if not _has_table(db):
        return Names()
    for kind, key, name, unit in db.conn.execute(
        "SELECT kind, key, name, unit FROM organisation_names"
    ):
        if kind == "unit":
            units[key] = name
        else:
            officers[key] = name
            officer_units[key] = unit
    return Names(units=units, officers=officers, officer_units=officer_units)


def _parse(version: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise StoreError(f"stored organisation {version}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise StoreError(f"stored organisation {version}: not organisation data")
    return data


def _has_table(db: sqlite_utils.Database) -> bool:
    # A file opened read-only, without the migrations (``lienthong report`` on an old store).
    return (
        db.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'organisations'"
        ).fetchone()
        is not None
    )


def current_version_of_file(path: str) -> str | None:
    """The current organisation's version in the database file ``path``, read without opening a
    :class:`~lienthong.store.Store` (read-only, no migration, no lock taken); ``None`` for a file
    that does not exist, is not a database or holds no organisation."""
    import sqlite3
    from pathlib import Path

    p = Path(path)
    if path in ("", ":memory:") or not p.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except (sqlite3.Error, OSError, ValueError):
        return None
    try:
        return current_version(sqlite_utils.Database(conn))
    except sqlite3.Error:
        return None
    finally:
        conn.close()
