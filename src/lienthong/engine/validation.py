"""Checks of what callers and plugins hand the engine, before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.engine.context import plain_json
from lienthong.errors import InvalidData


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
    if not isinstance(data, Mapping):
        raise InvalidData(f"{where}: must be a mapping of field names to values")
    for k in data:
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise InvalidData(
                f"{where}: field name {k!r} must be an identifier not starting with '_'"
            )
    plain_json(dict(data), where)
    return dict(data)
