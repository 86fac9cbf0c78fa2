"""Checks of what callers and plugins hand the engine, before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.errors import InvalidData
from lienthong.plaindata import check_plain


def document(d: Mapping[str, Any] | str, i: int) -> dict[str, Any]:
    """A submitted document as stored: a mapping with at least a non-empty ``code``."""
    if isinstance(d, str):
        d = {"code": d}
    if not isinstance(d, Mapping) or not str(d.get("code", "")).strip():
        raise InvalidData(f"documents[{i}]: a document needs a non-empty 'code'")
    return dict(d)


def check_data(data: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """A step's data: field names that are identifiers not starting with ``_``, plain values."""
    if data is None:
        return {}
    check_plain(data, where, field_names=True)
    return dict(data)
