"""lienthong plugin of the residence-registration authority (Công an, cơ quan đăng ký cư trú).

It performs the BPMN service-task operation ``police.record_residence`` of the liên thông
procedure *khai sinh – đăng ký thường trú – cấp thẻ BHYT*: once the police officer has registered
the child's permanent residence (đăng ký thường trú) and entered the registration number
(``residence_registration_no``) on the step, this operation records the result — the number, the
household (chủ hộ) and the address — in the plugin's own table, ``police_residence_records``,
and hands it back to the workflow.

Where the data comes from (workflow data first, then the applicant's tờ khai):

* ``residence_registration_no``: the officer's step data (required);
* the address: ``residence_address`` in the workflow data, else the applicant's ``address``
  (required);
* the household head: ``household_head`` in the workflow data or the applicant, else the
  applicant's own name (the parent declaring the birth usually lives in the household);
* the person registered: the child (``child.name`` or ``child_name``, in the workflow data or
  the applicant's declaration), if given.

Missing required data raises :class:`ResidenceDataMissing`, which lienthong reports as a
``PluginError`` on the failed step; :meth:`lienthong.engine.Engine.retry` runs it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong import hookimpl

__all__ = [
    "OPERATION",
    "TABLE",
    "ResidenceDataMissing",
    "operations",
    "perform_operation",
    "residence_record",
]

#: The BPMN ``lienthong:operation`` this plugin performs.
OPERATION = "police.record_residence"
#: The plugin's own table in the engine's database: one row per dossier.
TABLE = "police_residence_records"


class ResidenceDataMissing(ValueError):
    """The workflow data lacks what a residence record needs; the message names the field."""


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
            "residence_registration_no": str,
            "person_name": str,
            "household_head": str,
            "address": str,
            "step_id": int,
            "requested_at": str,
        },
        pk="dossier",
        not_null={"residence_registration_no", "address"},
    )


def residence_record(db: Any, dossier: str) -> dict[str, Any] | None:
    """The residence record of ``dossier`` (a row of ``police_residence_records``), or None."""
    if not db[TABLE].exists():
        return None
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE dossier = ?", [dossier]))
    return rows[0] if rows else None


@hookimpl
def operations() -> list[str]:
    """The operation this plugin performs: ``police.record_residence``."""
    return [OPERATION]


@hookimpl
def perform_operation(
    operation: str, dossier: Any, step: Any, data: Mapping[str, Any], db: Any
) -> dict[str, Any] | None:
    """Record the permanent-residence registration of the dossier's child."""
    if operation != OPERATION:
        return None
    applicant = _mapping(dossier.applicant)
    number = _text(data.get("residence_registration_no"))
    if not number:
        raise ResidenceDataMissing(
            f"dossier {dossier.code}: 'residence_registration_no' is missing from the workflow "
            "data: the police officer enters it when completing 'Đăng ký thường trú'"
        )
    address = _text(data.get("residence_address") or applicant.get("address"))
    if not address:
        raise ResidenceDataMissing(
            f"dossier {dossier.code}: no address to register: give 'residence_address' in the "
            "workflow data or 'address' in the applicant's data"
        )
    household = _text(
        data.get("household_head") or applicant.get("household_head") or applicant.get("name")
    )
    person = ""
    for source in (data, applicant):  # the workflow data first, then the declaration (tờ khai)
        child = _mapping(source.get("child"))
        person = person or _text(child.get("name") or source.get("child_name"))
    _ensure_table(db)
    db[TABLE].upsert(
        {
            "dossier": dossier.code,
            "residence_registration_no": number,
            "person_name": person or None,
            "household_head": household or None,
            "address": address,
            "step_id": step.id,
            "requested_at": step.opened_at.isoformat(),
        },
        pk="dossier",
    )
    return {
        "residence_recorded": True,
        "residence_registration_no": number,
        "residence_address": address,
    }
