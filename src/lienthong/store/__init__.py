"""The seam to the database: everything lienthong keeps goes through this package.

:mod:`~lienthong.store.sqlite` (the :class:`Store`: connection, transactions, savepoints),
:mod:`~lienthong.store.schema` (tables and migrations), :mod:`~lienthong.store.tables` and
:mod:`~lienthong.store.due` (the statements the engine runs), :mod:`~lienthong.store.records`
(the read-only records it returns), :mod:`~lienthong.store.audit` (the hash chain),
:mod:`~lienthong.store.digests` (what each audit row vouches for in ``dossiers`` and ``steps``, and
the ``--deep`` check), :mod:`~lienthong.store.tracker` with :mod:`~lienthong.store.rowvalues` and
:mod:`~lienthong.store.batch` (those digests made from what the engine wrote),
:mod:`~lienthong.store.checkpoint` (background WAL checkpoints), :mod:`~lienthong.store.orgs`
(the organisations engines ran with, and the names of units and officers).
"""

from lienthong.store.schema import MIGRATIONS
from lienthong.store.sqlite import (
    CHECKPOINTS,
    DURABILITY,
    Store,
    insert,
    rows,
    savepoint,
    update,
)

__all__ = [
    "CHECKPOINTS",
    "DURABILITY",
    "MIGRATIONS",
    "Store",
    "insert",
    "rows",
    "savepoint",
    "update",
]
