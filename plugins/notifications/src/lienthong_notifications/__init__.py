"""lienthong plugin: messages to the applicant (thông báo cho người nộp hồ sơ), in Vietnamese.

The hooks *write* messages; they never send anything. Each message is a row of the ``outbox``
table, written with the command's own ``db`` inside its transaction: if the command fails and
rolls back, its messages vanish with it. :func:`deliver` later turns undelivered rows into
``.eml`` files (UTF-8 e-mail messages) in a folder — for a mail relay, an SMS gateway or the
portal to pick up — and marks them delivered: the *transactional outbox* pattern.

Messages (``kind``):

``acknowledgement``
    an online dossier arrived (status 1) and will be checked within 8 working hours
    (``dossier_received``)
``receipt``
    Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01): the dossier was received complete and
    valid, with the appointment (``dossier_received``; for an online dossier the ``handoff`` out of
    its reception step)
``supplement_request``
    Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02) (``supplement_requested``)
``apology``
    Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết (Mẫu 04 of Circular 03/2025) with the
    new appointment
    (``apology_issued``)
``result_ready``
    the result is ready (``handoff`` to a return step, when the dossier becomes "Đã xử lý xong",
    status 9), or was returned (``result_returned``) in a procedure without a return step

Instants are shown in Asia/Ho_Chi_Minh as on the forms: ``09 giờ 05 phút, ngày 03/03/2025``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlite_utils

from lienthong import hookimpl

__all__ = [
    "DEFAULT_SENDER",
    "KINDS",
    "TABLE",
    "apology_issued",
    "deliver",
    "dossier_received",
    "format_instant",
    "handoff",
    "messages",
    "result_returned",
    "supplement_requested",
]

#: The plugin's table in the engine's database.
TABLE = "outbox"
#: Message kinds, with their Vietnamese names.
KINDS = {
    "acknowledgement": "Xác nhận đã nhận hồ sơ trực tuyến",
    "receipt": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "supplement_request": "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
    "apology": "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết",
    "result_ready": "Thông báo có kết quả giải quyết hồ sơ",
}
#: The ``From`` of delivered messages unless :func:`deliver` is told otherwise.
DEFAULT_SENDER = "Bộ phận Tiếp nhận và Trả kết quả <mot-cua@lienthong.invalid>"

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_ONLINE, _POSTAL = 2, 3  # lienthong.status.Channel numbers (national portal's KenhThucHien)
_RESOLVED, _RETURNED = 9, 10  # lienthong.status.Status numbers


class _Clock(Protocol):
    def now(self) -> datetime: ...


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def format_instant(t: datetime | None) -> str:
    """An instant as the forms show it, in Asia/Ho_Chi_Minh: ``09 giờ 05 phút, ngày 03/03/2025``."""
    if t is None:
        return "(chưa xác định)"
    if t.tzinfo is None:
        raise ValueError(f"format_instant: {t.isoformat()} is naive; give an aware datetime")
    local = t.astimezone(VN_TZ)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def _money(vnd: int | None) -> str:
    if not vnd:
        return "không thu"
    return f"{vnd:,}".replace(",", ".") + " đồng"


def _salutation(dossier: Any) -> str:
    name = str(dossier.applicant.get("name") or "").strip()
    return f"Kính gửi Ông/Bà {name}," if name else "Kính gửi Ông/Bà,"


def _procedure_name(db: Any, dossier: Any) -> str:
    row = db.execute(
        "SELECT name FROM procedures WHERE version = ?", [dossier.procedure_version]
    ).fetchone()
    return row[0] if row else dossier.procedure_code


def _where_to_collect(dossier: Any) -> str:
    if int(dossier.channel) == _ONLINE:
        return "trên Cổng Dịch vụ công quốc gia (hoặc ứng dụng VNeID)"
    if int(dossier.channel) == _POSTAL:
        return "qua dịch vụ bưu chính công ích, theo địa chỉ Ông/Bà đã đăng ký"
    return (
        "tại Bộ phận Tiếp nhận và Trả kết quả nơi Ông/Bà nộp hồ sơ; khi đến nhận, xin mang theo "
        "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"
    )


def _lines(*parts: str | None) -> str:
    text = "\n".join(p for p in parts if p is not None)
    return unicodedata.normalize("NFC", text.rstrip() + "\n")


def _documents(request: Mapping[str, Any]) -> list[str]:
    raw = request.get("documents") or request.get("missing") or ()
    if isinstance(raw, str | Mapping):
        raw = [raw]
    out = []
    for d in raw:
        if isinstance(d, Mapping):
            out.append(str(d.get("name") or d.get("code") or "").strip())
        else:
            out.append(str(d).strip())
    return [d for d in out if d]


def render_acknowledgement(dossier: Any, procedure: str) -> tuple[str, str]:
    """An online dossier arrived and waits to be checked."""
    return (
        f"Đã nhận hồ sơ trực tuyến – mã hồ sơ {dossier.code}",
        _lines(
            _salutation(dossier), "",
            "Hệ thống đã nhận hồ sơ trực tuyến của Ông/Bà lúc "
            f"{format_instant(dossier.arrived_at)}.",
            "",
            f"Mã hồ sơ: {dossier.code}",
            f"Thủ tục: {procedure}",
            "",
            "Bộ phận Một cửa sẽ kiểm tra hồ sơ trong thời hạn 08 giờ làm việc. Khi hồ sơ được "
            "tiếp nhận, Ông/Bà sẽ nhận được Giấy tiếp nhận hồ sơ và hẹn trả kết quả.",
            "", "Trân trọng.",
        ),
    )


def render_receipt(dossier: Any, procedure: str) -> tuple[str, str]:
    """Giấy tiếp nhận hồ sơ và hẹn trả kết quả."""
    return (
        f"Giấy tiếp nhận hồ sơ và hẹn trả kết quả – mã hồ sơ {dossier.code}",
        _lines(
            _salutation(dossier), "",
            "Hồ sơ của Ông/Bà đã được tiếp nhận.", "",
            f"Mã hồ sơ: {dossier.code}",
            f"Thủ tục: {procedure}",
            f"Thời gian nhận hồ sơ: {format_instant(dossier.received_at or dossier.arrived_at)}",
            f"Thời gian hẹn trả kết quả: {format_instant(dossier.appointment)}",
            f"Phí, lệ phí: {_money(dossier.fee)}",
            "",
            "Ông/Bà dùng mã hồ sơ trên để tra cứu tình trạng giải quyết hồ sơ.",
            "", "Trân trọng.",
        ),
    )


def render_supplement_request(
    dossier: Any, procedure: str, request: Mapping[str, Any]
) -> tuple[str, str]:
    """Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ."""
    docs = _documents(request)
    reason = str(request.get("reason") or request.get("note") or "").strip()
    return (
        f"Yêu cầu bổ sung, hoàn thiện hồ sơ – mã hồ sơ {dossier.code}",
        _lines(
            _salutation(dossier), "",
            f"Hồ sơ {dossier.code} ({procedure}) cần được bổ sung, hoàn thiện như sau:",
            *([f"  - {d}" for d in docs] or ["  - (xem lý do dưới đây)"]),
            f"Lý do: {reason}" if reason else None,
            "",
            "Xin Ông/Bà bổ sung hồ sơ tại Bộ phận Tiếp nhận và Trả kết quả hoặc trên Cổng Dịch vụ "
            "công. Thời hạn giải quyết được tính lại từ đầu kể từ khi nhận đủ hồ sơ bổ sung.",
            "", "Trân trọng.",
        ),
    )


def render_apology(
    dossier: Any, procedure: str, reason: str, new_appointment: datetime, signed_by: str,
    missed: datetime | None = None,
) -> tuple[str, str]:
    """Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết (Mẫu 04), as a letter to the
    applicant, its subject saying what it tells them (an apology, a new date); ``missed`` is the
    appointment that will not be kept (default: the dossier's original one)."""
    original = missed or dossier.original_appointment
    return (
        f"Thư xin lỗi và hẹn lại ngày trả kết quả – mã hồ sơ {dossier.code}",
        _lines(
            _salutation(dossier), "",
            f"Hồ sơ {dossier.code} ({procedure}) của Ông/Bà, hẹn trả kết quả lúc "
            f"{format_instant(original)}, chưa được giải quyết xong đúng hẹn.",
            f"Lý do: {reason.strip()}",
            "",
            "Chúng tôi thành thật xin lỗi Ông/Bà vì sự chậm trễ này và xin hẹn lại thời gian trả "
            f"kết quả: {format_instant(new_appointment)}.",
            "", f"Người ký: {signed_by}",
        ),
    )


def render_result_ready(dossier: Any, procedure: str) -> tuple[str, str]:
    """The result is ready to collect, or was returned."""
    if int(dossier.status) == _RETURNED:
        what = f"Kết quả đã được trả cho Ông/Bà {_where_to_collect(dossier).split(';')[0]}."
    else:
        what = f"Mời Ông/Bà nhận kết quả {_where_to_collect(dossier)}."
    return (
        f"Đã có kết quả giải quyết hồ sơ – mã hồ sơ {dossier.code}",
        _lines(
            _salutation(dossier), "",
            f"Hồ sơ {dossier.code} ({procedure}) đã được giải quyết xong.",
            what,
            f"Thời gian hẹn trả kết quả: {format_instant(dossier.appointment)}",
            "", "Trân trọng.",
        ),
    )


# ---------------------------------------------------------------------------------------------
# The outbox
# ---------------------------------------------------------------------------------------------
def _ensure_table(db: Any) -> None:
    if db[TABLE].exists():
        return
    db[TABLE].create(
        {
            "id": int,
            "dossier": str,
            "kind": str,
            "recipient_name": str,
            "recipient_email": str,
            "recipient_phone": str,
            "subject": str,
            "body": str,
            "created_at": str,
            "delivered_at": str,
            "file": str,
        },
        pk="id",
        not_null={"dossier", "kind", "subject", "body", "created_at"},
    )
    db[TABLE].create_index(["dossier", "kind"])
    db.execute(f"CREATE INDEX {TABLE}_undelivered ON {TABLE}(id) WHERE delivered_at IS NULL")


def _missed_appointment(db: Any, dossier: Any) -> datetime | None:
    """The appointment an apology replaces: the engine's audit row of the apology records it
    (after a supplement it is no longer the original appointment)."""
    row = db.execute(
        "SELECT data FROM audit WHERE dossier = ? AND event = 'apology' ORDER BY id DESC LIMIT 1",
        [dossier.code]).fetchone()
    try:
        old = json.loads(row[0]).get("old_appointment") if row and row[0] else None
        return datetime.fromisoformat(old) if old else None
    except (ValueError, AttributeError):
        return None


def _sent(db: Any, dossier: str, kind: str) -> bool:
    return bool(db.execute(
        f"SELECT 1 FROM {TABLE} WHERE dossier = ? AND kind = ?", [dossier, kind]).fetchone())


def _put(db: Any, dossier: Any, kind: str, message: tuple[str, str], at: datetime | None,
         *, once: bool = False) -> None:
    _ensure_table(db)
    if once and _sent(db, dossier.code, kind):
        return
    applicant = dossier.applicant
    subject, body = message
    db[TABLE].insert({
        "dossier": dossier.code,
        "kind": kind,
        "recipient_name": str(applicant.get("name") or "") or None,
        "recipient_email": str(applicant.get("email") or "").strip() or None,
        "recipient_phone": str(applicant.get("phone") or "").strip() or None,
        "subject": subject,
        "body": body,
        "created_at": (at or datetime.now(VN_TZ)).astimezone(VN_TZ).isoformat(),
        "delivered_at": None,
        "file": None,
    })


def messages(db: Any, dossier: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows, oldest first; only those of ``dossier`` if given."""
    if not db[TABLE].exists():
        return []
    where, args = ("WHERE dossier = ?", [dossier]) if dossier else ("", [])
    return list(db.query(f"SELECT * FROM {TABLE} {where} ORDER BY id", args))


# ---------------------------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------------------------
@hookimpl
def dossier_received(dossier: Any, db: Any) -> None:
    """Receipt with the appointment; for an online dossier not yet accepted, an acknowledgement."""
    procedure = _procedure_name(db, dossier)
    if dossier.appointment is not None:
        _put(db, dossier, "receipt", render_receipt(dossier, procedure),
             dossier.received_at or dossier.arrived_at, once=True)
    else:
        _put(db, dossier, "acknowledgement", render_acknowledgement(dossier, procedure),
             dossier.arrived_at, once=True)


@hookimpl
def handoff(dossier: Any, from_step: Any, to_step: Any, at: datetime, db: Any) -> None:
    """The receipt when an online dossier's reception step accepts it; "result ready" when the
    dossier reaches its return step."""
    if (from_step is not None and from_step.step_kind == "reception"
            and dossier.appointment is not None):
        _put(db, dossier, "receipt", render_receipt(dossier, _procedure_name(db, dossier)), at,
             once=True)
    if to_step is not None and to_step.step_kind == "return":
        _put(db, dossier, "result_ready",
             render_result_ready(dossier, _procedure_name(db, dossier)), at, once=True)


@hookimpl
def supplement_requested(dossier: Any, request: Mapping[str, Any], db: Any) -> None:
    """Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ."""
    at = request.get("at") or request.get("requested_at") or dossier.paused_since
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    _put(db, dossier, "supplement_request",
         render_supplement_request(dossier, _procedure_name(db, dossier), request), at)


@hookimpl
def apology_issued(
    dossier: Any, reason: str, new_appointment: datetime, signed_by: str, db: Any
) -> None:
    """Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết, Mẫu 04 (once per dossier)."""
    _put(db, dossier, "apology",
         render_apology(dossier, _procedure_name(db, dossier), reason, new_appointment,
                        signed_by, _missed_appointment(db, dossier)),
         dossier.apology_issued_at, once=True)


@hookimpl
def result_returned(dossier: Any, db: Any) -> None:
    """"Result ready" for a procedure whose result went out without a return step."""
    _put(db, dossier, "result_ready", render_result_ready(dossier, _procedure_name(db, dossier)),
         dossier.closed_at, once=True)


# ---------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------
def _address(text: str) -> Address:
    name, addr = parseaddr(text)
    if "@" not in addr:
        raise ValueError(f"sender {text!r}: expected 'Name <user@domain>'")
    user, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=user, domain=domain)


def _email(row: Mapping[str, Any], sender: Address) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = row["subject"]
    msg["From"] = sender
    to = row["recipient_email"]
    if to and re.fullmatch(r"[^@\s]+@[^@\s]+", to):
        user, domain = to.rsplit("@", 1)
        msg["To"] = Address(display_name=row["recipient_name"] or "", username=user,
                            domain=domain)
    msg["Date"] = format_datetime(datetime.fromisoformat(row["created_at"]))
    msg["Message-ID"] = f"<outbox.{row['id']}.{row['dossier']}@{sender.domain}>"
    msg["X-Lienthong-Dossier"] = row["dossier"]
    msg["X-Lienthong-Kind"] = row["kind"]
    if row["recipient_phone"]:
        msg["X-Lienthong-Phone"] = row["recipient_phone"]
    msg.set_content(row["body"], charset="utf-8")
    return msg


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".outbox-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deliver(
    db: sqlite_utils.Database | str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    sender: str = DEFAULT_SENDER,
    clock: _Clock | None = None,
) -> list[Path]:
    """Write every undelivered outbox row as an ``.eml`` file in ``folder`` and mark it delivered.

    ``db`` is the engine's database (``engine.db``) or the path of its file; ``clock`` (anything
    with ``now()``, e.g. lienthong's ``FixedClock``) stamps ``delivered_at``. Each file is written
    completely before its row is marked, one row at a time: a crash in between writes the same
    file again next time (same name, same content), never loses a message. Returns the files
    written, oldest message first.
    """
    if not isinstance(db, sqlite_utils.Database):
        db = sqlite_utils.Database(str(db))
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if not db[TABLE].exists():
        return []
    from_ = _address(sender)
    written = []
    rows: Iterable[dict[str, Any]] = list(
        db.query(f"SELECT * FROM {TABLE} WHERE delivered_at IS NULL ORDER BY id"))
    for row in rows:
        path = out / f"{row['id']:06d}-{row['kind']}-{row['dossier']}.eml"
        _write_atomically(path, _email(row, from_).as_bytes())
        now = (clock.now() if clock is not None else datetime.now(VN_TZ)).astimezone(VN_TZ)
        with db.atomic():
            db.execute(f"UPDATE {TABLE} SET delivered_at = ?, file = ? WHERE id = ?",
                       [now.isoformat(), path.name, row["id"]])
        written.append(path)
    return written
