"""The organisation an engine runs with (tổ chức: đơn vị, cán bộ), and its record in the store.

An engine given an organisation (a file or an :class:`~lienthong.org.Organisation`) adds what the
plugins' ``organisation_units`` give and stores the result when it opens the store, as one
command of its own; the store keeps each version once (:mod:`lienthong.store.orgs`). An engine
given none runs with the organisation the store holds as current: the one the last engine
opened with, plugins' units included, to which this engine's plugins give their entries again
(an entry they still give takes its place again, in its newer form if it changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lienthong.errors import OrganisationNotStored
from lienthong.org import Officer, Organisation, Unit, data_version
from lienthong.store import orgs
from lienthong.store.sqlite import Store


def base(org: Organisation | str | Path) -> Organisation:
    """The organisation passed to the Engine, loaded if a path."""
    return org if isinstance(org, Organisation) else Organisation.from_file(org)


def given(org: Organisation | str | Path, extra: Sequence[Unit | Officer]) -> Organisation:
    """The organisation passed to the Engine (loaded, if a path) with the plugins' entries; an
    entry listed twice is an error, as in one file."""
    loaded = base(org)
    return loaded.with_entries(extra) if extra else loaded


def opened(
    store: Store, org: Organisation | None, extra: Sequence[Unit | Officer], now: str
) -> Organisation:
    """The organisation the engine runs with, recorded in the store: ``org`` (what
    :func:`given` made), or the store's current one with the plugins' entries given again
    (:class:`OrganisationNotStored` if it holds none)."""
    if org is None:
        org = _stored(store, extra)
        if not extra:
            return org  # the current version itself: nothing to record
    record(store, org, now)
    return org


def _stored(store: Store, extra: Sequence[Unit | Officer]) -> Organisation:
    data = orgs.current(store.db)
    if data is None:
        raise OrganisationNotStored(
            f"{store.where}: no organisation is stored in this database (it is new, or was "
            "written before lienthong kept one): pass org= (an Organisation or the path of its "
            "TOML file)"
        )
    version = orgs.current_version(store.db) or "?"
    base = Organisation.from_data(data, where=f"{store.where}: stored organisation {version}")
    return base.with_entries(extra, replace=True) if extra else base


def record(store: Store, org: Organisation, now: str) -> None:
    """Make ``org`` the store's current organisation, in one transaction; nothing is written
    (and no lock taken) when it is the current one already, as it is for most engines."""
    data = org.to_data()
    version = data_version(data)
    if orgs.current_version(store.db) == version:
        return
    with store.transaction() as db:
        orgs.save(db, data, version, now)
