"""What a store's address says, without importing any store: whether it names PostgreSQL, and
how messages show it (no password)."""

from __future__ import annotations

import re


def is_address(db: object) -> bool:
    """Whether ``db`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def hide_password(url: str) -> str:
    """The address as messages may show it: without its password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
