"""lienthong plugin of the social-insurance agency (Bảo hiểm xã hội, BHXH).

It performs the BPMN service-task operation ``social_insurance.issue_card`` of the liên thông
procedure *khai sinh – đăng ký thường trú – cấp thẻ BHYT cho trẻ em dưới 6 tuổi*: it issues the
child's social-insurance number (mã số BHXH, 10 digits) and health-insurance card number (mã thẻ
BHYT, 15 characters), and keeps them in its own table, ``social_insurance_cards``, so that the same
child never gets two numbers — a retried step, or a second dossier for the same child, gets the
numbers already issued.

The numbers are *simulated*: derived deterministically (SHA-256) from the dossier code and the
child's data, in the real formats, because the real ones come from BHXH's national database. The
formats, and what of them was verified, are in the package's README.

Card number layout (15 characters)::

    TE 1 29 2912345678
    |  | |  +-- mã số BHXH, 10 digits (here: province code + 8 digits)
    |  | +----- province code (mã tỉnh) where the card is issued, 2 digits
    |  +------- benefit level (mức hưởng) 1–5; 1 for children under 6
    +---------- beneficiary code (mã đối tượng); TE = trẻ em dưới 6 tuổi

Register the module itself (the ``social-insurance`` entry point does), or a
:class:`SocialInsurance` object to choose the province code and the validity rule.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from lienthong import hookimpl

__all__ = [
    "BENEFIT_LEVEL_CHILD",
    "DEFAULT_PROVINCE_CODE",
    "OBJECT_CODE_CHILD",
    "OPERATION",
    "TABLE",
    "SocialInsurance",
    "bhxh_code_for",
    "card_number",
    "card_valid_until",
    "check_bhxh_code",
    "check_card_number",
    "child_data",
    "issued_card",
    "operations",
    "perform_operation",
]

#: The BPMN ``lienthong:operation`` this plugin performs.
OPERATION = "social_insurance.issue_card"
#: The plugin's own table in the engine's database.
TABLE = "social_insurance_cards"
#: Beneficiary code (mã đối tượng) of children under 6 (trẻ em dưới 6 tuổi).
OBJECT_CODE_CHILD = "TE"
#: Benefit level (mức hưởng) of ``TE`` cards: 100 % of covered costs, without the ceilings.
BENEFIT_LEVEL_CHILD = "1"
#: Province code of the demo's fictitious "Tỉnh Mẫu". 29 is not the code of any real province
#: in the pre-2025 list of province codes, so a demo number cannot pass for a real one.
DEFAULT_PROVINCE_CODE = "29"
#: Environment variable that sets the province code of the module-level plugin.
PROVINCE_ENV = "LIENTHONG_BHXH_PROVINCE"

_BHXH_RE = re.compile(r"^\d{10}$")
_CARD_RE = re.compile(r"^(?P<object>[A-Z]{2})(?P<level>\d)(?P<province>\d{2})(?P<bhxh>\d{10})$")
_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_VALIDITY_RULES = ("sixth-birthday", "72-months-school-year")


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------
def _check_province(code: str) -> str:
    if not isinstance(code, str) or not re.fullmatch(r"\d{2}", code) or code == "00":
        raise ValueError(f"province code {code!r}: expected two digits, 01–99")
    return code


def check_bhxh_code(code: str) -> str:
    """Return ``code`` if it is a well-formed mã số BHXH (10 digits), else raise ValueError."""
    if not isinstance(code, str) or not _BHXH_RE.match(code):
        raise ValueError(f"mã số BHXH {code!r}: expected exactly 10 digits")
    return code


def check_card_number(card: str) -> dict[str, str]:
    """Split a 15-character health-insurance card number into its parts, checking each.

    Returns ``{"object_code", "benefit_level", "province_code", "bhxh_code"}``; raises
    ValueError naming the part that is wrong.
    """
    if not isinstance(card, str) or len(card) != 15:
        raise ValueError(f"thẻ BHYT {card!r}: expected 15 characters")
    m = _CARD_RE.match(card)
    if m is None:
        raise ValueError(
            f"thẻ BHYT {card!r}: expected 2 capital letters (mã đối tượng), 1 digit (mức hưởng), "
            "2 digits (mã tỉnh) and 10 digits (mã số BHXH)"
        )
    if m["level"] not in "12345":
        raise ValueError(f"thẻ BHYT {card!r}: benefit level (mức hưởng) {m['level']} is not 1–5")
    _check_province(m["province"])
    if m["object"] == OBJECT_CODE_CHILD and m["level"] != BENEFIT_LEVEL_CHILD:
        raise ValueError(
            f"thẻ BHYT {card!r}: a {OBJECT_CODE_CHILD} card has benefit level "
            f"{BENEFIT_LEVEL_CHILD}, not {m['level']}"
        )
    return {
        "object_code": m["object"],
        "benefit_level": m["level"],
        "province_code": m["province"],
        "bhxh_code": m["bhxh"],
    }


def bhxh_code_for(seed: str, province_code: str, attempt: int = 0) -> str:
    """A simulated mã số BHXH: the province code, then 8 digits of SHA-256(seed, attempt)."""
    _check_province(province_code)
    digest = hashlib.sha256(f"{seed}\x1f{attempt}".encode()).hexdigest()
    return check_bhxh_code(f"{province_code}{int(digest, 16) % 10**8:08d}")


def card_number(
    bhxh_code: str,
    province_code: str,
    object_code: str = OBJECT_CODE_CHILD,
    benefit_level: str = BENEFIT_LEVEL_CHILD,
) -> str:
    """The 15-character card number: object code, benefit level, province code, mã số BHXH."""
    card = f"{object_code}{benefit_level}{province_code}{check_bhxh_code(bhxh_code)}"
    check_card_number(card)
    return card


def _sixth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + 6)
    except ValueError:  # born on 29 February: the birthday falls on 1 March in a common year
        return date(born.year + 6, 3, 1)


def card_valid_until(born: date, rule: str = "sixth-birthday") -> date:
    """The last day a child's ``TE`` card is valid.

    ``"sixth-birthday"`` (default): the day before the 6th birthday — the card covers the child
    while under 6. ``"72-months-school-year"``: the reading of Decree 146/2018 Art. 13 found in a
    secondary source (not checked against the official text, see the README): a child reaching
    72 months by 30 September keeps the card until 30 September of that year, otherwise until the
    last day of the month of the 6th birthday.
    """
    if rule not in _VALIDITY_RULES:
        raise ValueError(f"validity rule {rule!r}: choose one of {', '.join(_VALIDITY_RULES)}")
    six = _sixth_birthday(born)
    if rule == "sixth-birthday":
        return six - timedelta(days=1)
    if six <= date(six.year, 9, 30):
        return date(six.year, 9, 30)
    first_of_next = date(six.year + six.month // 12, six.month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def _parse_birth_date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = _DMY_RE.match(text)
    try:
        if m:
            return date(int(m[3]), int(m[2]), int(m[1]))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"child's birth date {value!r}: expected YYYY-MM-DD or dd/mm/yyyy"
        ) from None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def child_data(dossier: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """The child's ``name``, ``birth_date`` and ``personal_id``, from the first place that has
    each: the workflow data's ``child`` mapping, its ``child_name`` / ``child_birth_date`` /
    ``child_personal_id`` fields, then the same in the applicant's declaration (tờ khai, the
    ``applicant`` mapping given at reception)."""
    applicant = _mapping(data.get("applicant")) or _mapping(dossier.applicant)
    out: dict[str, Any] = {}
    for source in (data, applicant):
        nested = _mapping(source.get("child"))
        for key in ("name", "birth_date", "personal_id"):
            value = nested.get(key) or source.get(f"child_{key}")
            if value not in (None, "") and key not in out:
                out[key] = value
    return out


def _norm(text: object) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text or "")).casefold().split())


# ---------------------------------------------------------------------------------------------
# The plugin
# ---------------------------------------------------------------------------------------------
def _ensure_table(db: Any) -> None:
    if db[TABLE].exists():
        return
    db[TABLE].create(
        {
            "child_key": str,
            "bhxh_code": str,
            "health_insurance_card": str,
            "card_valid_until": str,
            "child_name": str,
            "birth_date": str,
            "province_code": str,
            "dossier": str,
            "step_id": int,
            "requested_at": str,
        },
        pk="child_key",
        not_null={"bhxh_code", "health_insurance_card", "dossier"},
    )
    db[TABLE].create_index(["bhxh_code"], unique=True)
    db[TABLE].create_index(["health_insurance_card"], unique=True)
    db[TABLE].create_index(["dossier"])


def issued_card(db: Any, dossier: str) -> dict[str, Any] | None:
    """The card issued in ``dossier`` (a row of ``social_insurance_cards``), or None."""
    if not db[TABLE].exists():
        return None
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE dossier = ? ORDER BY rowid", [dossier]))
    return rows[0] if rows else None


class SocialInsurance:
    """The plugin as an object: choose the province code and the card validity rule.

    >>> plugin = SocialInsurance(province_code="29")   # register with Engine(plugins=[plugin])
    """

    def __init__(
        self, province_code: str = DEFAULT_PROVINCE_CODE, *, validity_rule: str = "sixth-birthday"
    ) -> None:
        self.province_code = _check_province(province_code)
        if validity_rule not in _VALIDITY_RULES:
            raise ValueError(
                f"validity_rule {validity_rule!r}: choose one of {', '.join(_VALIDITY_RULES)}"
            )
        self.validity_rule = validity_rule

    @hookimpl
    def operations(self) -> list[str]:
        """The operation this plugin performs."""
        return [OPERATION]

    @hookimpl
    def perform_operation(
        self, operation: str, dossier: Any, step: Any, data: Mapping[str, Any], db: Any
    ) -> dict[str, Any] | None:
        """Issue (or find) the child's numbers for ``social_insurance.issue_card``."""
        if operation != OPERATION:
            return None
        return self.issue(db, dossier, step, data)

    def issue(self, db: Any, dossier: Any, step: Any, data: Mapping[str, Any]) -> dict[str, Any]:
        """Issue the numbers of the dossier's child, or return those it already has."""
        child = child_data(dossier, data)
        name = str(child.get("name") or "").strip()
        personal_id = str(child.get("personal_id") or "").strip()
        certificate = str(data.get("birth_certificate_no") or "").strip()
        if not (name or personal_id or certificate):
            raise ValueError(
                f"dossier {dossier.code}: nothing identifies the child: give the child's "
                "'name' or 'personal_id' ('child': {...} in the workflow data or the applicant's "
                "declaration) or the 'birth_certificate_no'"
            )
        born = _parse_birth_date(child.get("birth_date"))
        today = step.opened_at.date()
        valid_until = None
        if born is not None:
            if born > today:
                raise ValueError(
                    f"dossier {dossier.code}: the child's birth date {born.isoformat()} is after "
                    f"today ({today.isoformat()})"
                )
            if _sixth_birthday(born) <= today:
                raise ValueError(
                    f"dossier {dossier.code}: the child (born {born.isoformat()}) is 6 or older: "
                    f"not eligible for a {OBJECT_CODE_CHILD} card"
                )
            valid_until = card_valid_until(born, self.validity_rule).isoformat()
        key = self._child_key(dossier, personal_id, certificate, name, born)
        _ensure_table(db)
        rows = list(db.query(f"SELECT * FROM {TABLE} WHERE child_key = ?", [key]))
        if rows:  # a retry, or the same child in another dossier: never a second number
            row = rows[0]
        else:
            seed = f"{dossier.code}\x1f{key}"
            attempt = 0
            while True:
                bhxh = bhxh_code_for(seed, self.province_code, attempt)
                if not db.execute(f"SELECT 1 FROM {TABLE} WHERE bhxh_code = ?", [bhxh]).fetchone():
                    break
                attempt += 1  # another child has this number: derive the next candidate
            row = {
                "child_key": key,
                "bhxh_code": bhxh,
                "health_insurance_card": card_number(bhxh, self.province_code),
                "card_valid_until": valid_until,
                "child_name": name or None,
                "birth_date": born.isoformat() if born else None,
                "province_code": self.province_code,
                "dossier": dossier.code,
                "step_id": step.id,
                "requested_at": step.opened_at.isoformat(),
            }
            db[TABLE].insert(row)
        return {
            "bhxh_code": row["bhxh_code"],
            "health_insurance_card": row["health_insurance_card"],
            "card_valid_until": row["card_valid_until"],
        }

    @staticmethod
    def _child_key(
        dossier: Any, personal_id: str, certificate: str, name: str, born: date | None
    ) -> str:
        """What identifies the child: the personal identification number (số định danh cá
        nhân) when known, else the birth certificate number with the name and birth date, else
        the dossier with the name and birth date."""
        if personal_id:
            return f"id:{personal_id}"
        who = f"{_norm(name)}|{born.isoformat() if born else ''}"
        if certificate:
            return f"ks:{_norm(certificate)}|{who}"
        return f"hs:{dossier.code}|{who}"


def _default() -> SocialInsurance:
    return SocialInsurance(os.environ.get(PROVINCE_ENV) or DEFAULT_PROVINCE_CODE)


@hookimpl
def operations() -> list[str]:
    """The operation this plugin performs: ``social_insurance.issue_card``."""
    return [OPERATION]


@hookimpl
def perform_operation(
    operation: str, dossier: Any, step: Any, data: Mapping[str, Any], db: Any
) -> dict[str, Any] | None:
    """Issue the child's mã số BHXH and thẻ BHYT (province code from ``$LIENTHONG_BHXH_PROVINCE``,
    default 29)."""
    if operation != OPERATION:
        return None
    return _default().issue(db, dossier, step, data)
