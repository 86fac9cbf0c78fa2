"""The national public service portal's payload (Cổng Dịch vụ công quốc gia, domain.md §5):
a dossier's ``DongBoHoSoMC`` record (:func:`portal_record`), its progress records
(``CapNhatTienDoHoSoMC``: :func:`progress_records`), its supplement list
(``DanhSachHoSoBoSung``: :func:`supplement_list`) and its extension list (the apology with a
new appointment: :func:`extension_list`), with the portal's instants (:func:`portal_date`) and
status codes (TrangThaiHoSo).

Each is a function of the store, as the reports are. The engine offers the record and the
progress records to plugins through the ``portal_record_changed`` hook after every command
that changed them has committed; the plugin sends them (lienthong does not call the portal).
docs/portal.md gives every field, where it comes from, and what lienthong does not know.
"""

from lienthong.portal.dates import FORMAT, from_portal_date, portal_date
from lienthong.portal.facts import Facts, read
from lienthong.portal.progress import (
    CHANGES,
    EXTENSION_FIELDS,
    PROGRESS_FIELDS,
    SUPPLEMENT_FIELDS,
    extension_list,
    progress_records,
    supplement_list,
    timeline,
)
from lienthong.portal.record import (
    RECORD_FIELDS,
    UNKNOWN,
    portal_payload,
    portal_record,
    record_of,
)

__all__ = [
    "CHANGES",
    "EXTENSION_FIELDS",
    "FORMAT",
    "PROGRESS_FIELDS",
    "RECORD_FIELDS",
    "SUPPLEMENT_FIELDS",
    "UNKNOWN",
    "Facts",
    "extension_list",
    "from_portal_date",
    "portal_date",
    "portal_payload",
    "portal_record",
    "progress_records",
    "read",
    "record_of",
    "supplement_list",
    "timeline",
]
