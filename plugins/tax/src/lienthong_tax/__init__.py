"""lienthong plugin of the tax office (cơ quan thuế): tax registration of a business household.

It performs the BPMN service-task operation ``tax.register_household`` of a procedure that
registers a business household (đăng ký thành lập hộ kinh doanh), such as the liên thông group
of Nghị định 297/2025/NĐ-CP (``processes/ho-kinh-doanh-karaoke-lien-thong.bpmn``): the household
registration is passed to the tax registration system (Nghị định 168/2025/NĐ-CP, Điều 113,
bước 4), which registers the household for tax. Since 01/7/2025 a business household has no tax
code of its own: its tax code is the personal identification number (số định danh cá nhân) of
the household's representative (Thông tư 86/2024/TT-BTC, Điều 5 khoản 5). The operation checks
that number, records the registration in the plugin's own table, ``tax_household_registrations``,
and hands the tax code back to the workflow.

Where the data comes from (workflow data first, then the applicant's tờ khai):

* the household head's number: ``owner_id_number`` in the workflow data (the desk enters it at
  reception), else the applicant's ``id_number`` (required, 12 digits);
* the household business's name: ``business_name``, else the applicant's (optional);
* the certificate number: ``household_business_no``, given by the registration officer
  (optional here: the BPMN requires it on the step that issues the certificate).

Missing or malformed data raises :class:`HouseholdDataMissing`, which lienthong reports as a
``PluginError`` on the failed step; :meth:`lienthong.engine.Engine.retry` runs it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lienthong import hookimpl

__all__ = [
    "OPERATION",
    "TABLE",
    "HouseholdDataMissing",
    "household_registration",
    "operations",
    "perform_operation",
]

#: The BPMN ``lienthong:operation`` this plugin performs.
OPERATION = "tax.register_household"
#: The plugin's own table in the engine's database: one row per dossier.
TABLE = "tax_household_registrations"
#: A personal identification number (số định danh cá nhân): 12 digits.
_ID_NUMBER = re.compile(r"^\d{12}$")


class HouseholdDataMissing(ValueError):
    """The workflow data lacks what a tax registration needs; the message names the field."""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value not in (None, "") else ""


def _ensure_table(db: Any) -> None:
    if db[TABLE].exists():
        return
    db[TABLE].create(
        {
            "dossier": str,
            "tax_code": str,
            "business_name": str,
            "household_business_no": str,
            "step_id": int,
            "requested_at": str,
        },
        pk="dossier",
        not_null={"tax_code"},
    )


def household_registration(db: Any, dossier: str) -> dict[str, Any] | None:
    """The tax registration of ``dossier`` (a row of ``tax_household_registrations``), or None."""
    if not db[TABLE].exists():
        return None
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE dossier = ?", [dossier]))
    return rows[0] if rows else None


@hookimpl
def operations() -> list[str]:
    """The operation this plugin performs: ``tax.register_household``."""
    return [OPERATION]


@hookimpl
def perform_operation(
    operation: str, dossier: Any, step: Any, data: Mapping[str, Any], db: Any
) -> dict[str, Any] | None:
    """Register the dossier's business household for tax; its tax code is the household
    head's personal identification number."""
    if operation != OPERATION:
        return None
    applicant = _mapping(dossier.applicant)
    given = _text(data.get("owner_id_number")) or _text(applicant.get("id_number"))
    number = given.replace(" ", "")
    if not number:
        raise HouseholdDataMissing(
            f"dossier {dossier.code}: no personal identification number of the household head: "
            "give 'owner_id_number' at reception, or 'id_number' in the applicant's data"
        )
    if not _ID_NUMBER.match(number):
        raise HouseholdDataMissing(
            f"dossier {dossier.code}: the household head's personal identification number "
            f"{number!r} is not 12 digits (số định danh cá nhân)"
        )
    business = _text(data.get("business_name") or applicant.get("business_name"))
    certificate = _text(data.get("household_business_no"))
    _ensure_table(db)
    db[TABLE].upsert(
        {
            "dossier": dossier.code,
            "tax_code": number,
            "business_name": business or None,
            "household_business_no": certificate or None,
            "step_id": step.id,
            "requested_at": step.opened_at.isoformat(),
        },
        pk="dossier",
    )
    return {"tax_registered": True, "tax_code": number}
