"""What every report shares: the period it covers, the names it prints beside codes, and the
checks of its filters (a unit, a procedure) against what is stored.

A report reads the tables through the indexes of migration 007 and never a workflow. Stored
instants are ISO 8601 text in Asia/Ho_Chi_Minh, so a period is a range of text: ``closed_at >=
start AND closed_at < end`` is a range scan of an index.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils

from lienthong.errors import InvalidData, OrganisationError, StoreError, UnknownProcedure
from lienthong.legaltime.clock import VN_TZ
from lienthong.org import Organisation
from lienthong.store import orgs, stores

#: Below and above every stored instant (they all start with a four-digit year).
_LOW, _HIGH = "0000", "9999"


def as_db(db: sqlite_utils.Database | sqlite3.Connection | str | Path) -> sqlite_utils.Database:
    """``db`` as a sqlite-utils database; a path is opened read-only (a report writes nothing,
    and must not give some other file lienthong's tables)."""
    if isinstance(db, sqlite_utils.Database):
        return db
    if isinstance(db, sqlite3.Connection):
        return sqlite_utils.Database(db)
    if stores.is_address(db):
        return stores.reader(str(db))
    p = Path(db)
    if not p.is_file():
        raise StoreError(f"{db}: no such database file")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM _migrations LIMIT 1")
    except sqlite3.Error as e:
        raise StoreError(f"{db}: not a lienthong database ({e})") from None
    return sqlite_utils.Database(conn)


@attrs.frozen
class Period:
    """A half-open interval of instants ``[start, end)``; ``None`` at either side: unbounded
    (without ``--from``/``--to`` a report covers everything stored)."""

    start: datetime | None = None
    end: datetime | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("start", "end"):
            t = getattr(self, name)
            if t is not None and (not isinstance(t, datetime) or t.utcoffset() is None):
                raise InvalidData(f"period {name}: expected a timezone-aware datetime, got {t!r}")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise InvalidData(
                f"period: the start {self.start.isoformat()} is not before the end "
                f"{self.end.isoformat()}"
            )

    @classmethod
    def days(cls, first: date | str | None = None, last: date | str | None = None) -> Period:
        """From the start of day ``first`` to the end of day ``last`` (both included), in
        Asia/Ho_Chi_Minh; a day is a :class:`~datetime.date` or ``YYYY-MM-DD`` text."""
        d1 = _day(first, "from")
        d2 = _day(last, "to")
        if d1 is not None and d2 is not None and d1 > d2:
            raise InvalidData(f"period: --from {d1.isoformat()} is after --to {d2.isoformat()}")
        return cls(
            datetime.combine(d1, time(), VN_TZ) if d1 else None,
            datetime.combine(d2 + timedelta(days=1), time(), VN_TZ) if d2 else None,
        )

    @property
    def low(self) -> str:
        """The start as stored text (or below every instant)."""
        return self.start.astimezone(VN_TZ).isoformat() if self.start else _LOW

    @property
    def high(self) -> str:
        """The end as stored text (or above every instant)."""
        return self.end.astimezone(VN_TZ).isoformat() if self.end else _HIGH

    def describe(self) -> str:
        """``dd/mm/yyyy – dd/mm/yyyy`` (the end day included), or what is stored."""
        if self.start is None and self.end is None:
            return "toàn bộ dữ liệu (everything stored)"
        a = f"{self.start.astimezone(VN_TZ):%d/%m/%Y}" if self.start else "…"
        b = (
            f"{(self.end.astimezone(VN_TZ) - timedelta(microseconds=1)):%d/%m/%Y}"
            if self.end
            else "…"
        )
        return f"{a} – {b}"


def _day(value: date | str | None, option: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidData(f"--{option} {value!r}: expected a date YYYY-MM-DD, e.g. 2025-07-01")


@attrs.frozen
class Names(orgs.Names):
    """Names beside codes: units, officers (and the unit each belongs to), as the reports show
    them: an unknown code gets ``""`` beside it rather than itself.

    From an :class:`~lienthong.org.Organisation` given to the report, else from the
    organisations stored in the database (:func:`lienthong.store.orgs.names`: an officer who left
    still shows under the name they had), else none (codes alone).
    """

    @classmethod
    def of(
        cls, org: Organisation | orgs.Names | None, db: sqlite_utils.Database | None = None
    ) -> Names:
        """The names of ``org``; for ``None``, those stored in ``db`` (or none)."""
        if isinstance(org, Names):
            return org
        if org is None:
            found = orgs.names(db) if db is not None else orgs.Names()
        elif isinstance(org, orgs.Names):
            found = org
        elif isinstance(org, Organisation):
            found = orgs.Names.of(org)
        else:
            raise InvalidData(f"org: expected an Organisation or Names, got {type(org).__name__}")
        return cls(found.units, found.officers, found.officer_units)

    def unit(self, code: str | None) -> str:
        """The unit's name, or ``""`` when unknown."""
        return self.units.get(code or "", "")

    def officer(self, officer_id: str | None) -> str:
        """The officer's name (``Hệ thống`` for a service step's plugin), or ``""``."""
        if officer_id == "system":
            return "Hệ thống (system)"
        return self.officers.get(officer_id or "", "")


def procedure_names(db: sqlite_utils.Database) -> dict[str, str]:
    """Procedure code -> its name, as its current version gives it: the one that became
    current last (``seq``; loading an older version again makes it current). Not ``loaded_at``
    and the rows' order: instants tie under an injected clock, and on PostgreSQL a row's place
    (``ctid``) moves when it is updated."""
    out: dict[str, str] = {}
    for code, name in db.conn.execute("SELECT code, name FROM procedures ORDER BY seq"):
        out[code] = name
    return out


def check_unit(db: sqlite_utils.Database, names: Names, unit: str | None) -> None:
    """``unit`` is a unit of the organisation or of some stored step or dossier."""
    if unit is None or unit in names.units:
        return
    for sql in (
        "SELECT 1 FROM steps WHERE unit = ? AND status = 'done' LIMIT 1",
        "SELECT 1 FROM steps WHERE unit = ? AND closed_at IS NULL LIMIT 1",
    ):
        if db.conn.execute(sql, [unit]).fetchone():
            return
    raise OrganisationError(
        f"--unit {unit!r}: no such unit (not in the organisation, and no step of it is stored)"
    )


def check_procedure(db: sqlite_utils.Database, procedure: str | None) -> None:
    """``procedure`` is the code of a stored procedure."""
    if procedure is None:
        return
    if db.conn.execute("SELECT 1 FROM procedures WHERE code = ?", [procedure]).fetchone():
        return
    known = ", ".join(sorted(procedure_names(db))) or "none"
    raise UnknownProcedure(f"--procedure {procedure!r}: no such procedure (stored: {known})")


def as_of(db: sqlite_utils.Database, period: Period, now: datetime | None = None) -> str:
    """The instant (stored text) at which "in progress at the end of the period" is judged:
    the period's end; for a period with no end, ``now`` if given, else the last instant the
    audit recorded (what is stored, as of its last event: no wall clock is read)."""
    if period.end is not None:
        return period.high
    if now is not None:
        return Period(None, now).high
    row = db.conn.execute("SELECT at FROM audit WHERE id = (SELECT max(id) FROM audit)").fetchone()
    return row[0] if row else _HIGH


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in per cent, one decimal; ``None`` when there is no whole."""
    return round(100.0 * part / whole, 1) if whole else None


def fields(record: Any) -> dict[str, Any]:
    """An attrs record as a plain dict, nested records and tuples included."""
    return attrs.asdict(record)
