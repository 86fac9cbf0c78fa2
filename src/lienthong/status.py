"""The national public service portal's dossier status codes (TrangThaiHoSo, Cổng DVCQG).

lienthong keeps the portal's numbers so that a dossier can be synchronised without translation.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class Status(IntEnum):
    """Dossier status, numbered as on the national portal."""

    NEW = 1  # Mới đăng ký
    ACCEPTED = 2  # Được tiếp nhận
    REFUSED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
    FINANCIAL_OBLIGATION = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    RESOLVED = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả

    @property
    def label(self) -> str:
        """The Vietnamese label the portal shows."""
        return STATUS_LABELS[self]

    @property
    def is_closed(self) -> bool:
        """True when no command may change the dossier any more."""
        return self in (Status.REFUSED, Status.WITHDRAWN, Status.STOPPED, Status.RETURNED)


STATUS_LABELS = {
    Status.NEW: "Mới đăng ký",
    Status.ACCEPTED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    Status.FINANCIAL_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.STOPPED: "Dừng xử lý",
    Status.RESOLVED: "Đã xử lý xong",
    Status.RETURNED: "Đã trả kết quả",
}


class Channel(IntEnum):
    """How the dossier was submitted (KenhThucHien on the national portal)."""

    DIRECT = 1  # Trực tiếp
    ONLINE = 2  # Trực tuyến
    POSTAL = 3  # Bưu chính công ích


class ResultClass:
    """Classification of a finished step or dossier (kết quả giải quyết)."""

    EARLY = "early"  # Trước hạn
    ON_TIME = "on_time"  # Đúng hạn
    LATE = "late"  # Quá hạn

    LABELS: ClassVar[dict[str, str]] = {
        EARLY: "Trước hạn",
        ON_TIME: "Đúng hạn",
        LATE: "Quá hạn",
    }
