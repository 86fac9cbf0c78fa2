"""lienthong's own defaults, implemented as a plugin on the public hooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.bpmn.procedures import Procedure
from lienthong.plugins.hookspecs import hookimpl


@hookimpl
def check_documents(procedure: Procedure, documents: tuple[Mapping[str, Any], ...]) -> list[str]:
    """Every document on the procedure's published list (thành phần hồ sơ) must be there."""
    given = {str(d.get("code")) for d in documents}
    return [
        f"required document {code!r} is missing"
        for code in procedure.required_documents
        if code not in given
    ]


@hookimpl(trylast=True)
def compute_fees(procedure: Procedure) -> int | None:
    """The fee published with the procedure (``lienthong:fee``)."""
    return procedure.fee
