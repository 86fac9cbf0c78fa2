"""Signed checkpoints of the audit chain: tamper evidence that holds against someone with the file.

The hash chain (:mod:`lienthong.store.audit`) shows that rows were changed only to someone who
knows what the chain looked like before: whoever can write the file can drop the append-only
triggers, delete the last rows, or edit a row and recompute every later hash, and
:func:`lienthong.store.audit.verify` still passes. A *checkpoint* is that outside knowledge: the
number of rows, the last row's id and its hash at an instant, signed with an Ed25519 key that lives
outside the database. Kept where the database's writer cannot reach (a witness server, another
agency, a printed page), checkpoints make the past of the chain fixed: :func:`verify_with_anchors`
fails when the rows a checkpoint vouches for are no longer exactly those it signed.

A checkpoint is a claim about a prefix of the chain: rows appended after it do not contradict it.
What happened after the last checkpoint is only as safe as the plain chain.

Checkpoints are stored one JSON object per line (JSON Lines, "anchors" files); the signature is
over :func:`signed_bytes`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import sqlite_utils
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lienthong.errors import AuditError, LienthongError
from lienthong.legaltime.clock import VN_TZ
from lienthong.store import audit, digests

__all__ = [
    "FORMAT",
    "VERSION",
    "AnchorError",
    "AnchoredResult",
    "append_anchor",
    "check_format",
    "checkpoint_line",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "make_checkpoint",
    "public_key_hex",
    "read_anchors",
    "signed_bytes",
    "verify_with_anchors",
]

FORMAT = "lienthong-audit-checkpoint"
VERSION = 1
#: The signed fields, in the order a checkpoint is written; ``signature`` follows them.
SIGNED = ("format", "version", "rows", "last_id", "head", "at", "public_key")
FIELDS = (*SIGNED, "signature")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


class AnchorError(LienthongError):
    """A key file or an anchors file is missing or malformed (names the file and the line)."""


# -- keys -------------------------------------------------------------------------------------


def generate_key(path: str | Path) -> Ed25519PrivateKey:
    """Make a new Ed25519 key and write it to ``path`` as unencrypted PKCS#8 PEM, mode 0600.

    Refuses to overwrite an existing file: replacing a key by mistake would leave every checkpoint
    signed with the old one unverifiable against the new one.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: the existence check and the creation are one step, so no race can overwrite.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AnchorError(f"{path}: already exists; not overwriting a key") from None
    except OSError as e:
        raise AnchorError(f"{path}: cannot create the key file ({e.strerror})") from None
    with os.fdopen(fd, "wb") as f:
        if hasattr(os, "fchmod"):  # the umask may have left less than 0600; never more
            os.fchmod(f.fileno(), 0o600)
        f.write(pem)
    return key


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file (as :func:`generate_key` writes it)."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying the key is encrypted
        raise AnchorError(f"{path}: the key is encrypted; lienthong reads unencrypted PEM keys "
                          "(protect the file, not the key)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise AnchorError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(value: str) -> str:
    """The public key ``value`` names, as 64 hex digits: the hex itself, or a file holding it, a
    PEM public key or a PEM private key (whose public half is taken)."""
    text = value.strip()
    if _HEX64.fullmatch(text.lower()):
        return text.lower()
    if not Path(value).exists():
        raise AnchorError(f"{value}: neither a public key (64 hex digits) nor a key file")
    data = _read_key_file(value)
    if b"PRIVATE KEY" in data:
        return public_key_hex(load_private_key(value))
    if b"PUBLIC KEY" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise AnchorError(f"{value}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AnchorError(f"{value}: a {type(key).__name__}, not an Ed25519 public key")
        return public_key_hex(key)
    inside = data.decode("ascii", "replace").strip().lower()
    if _HEX64.fullmatch(inside):
        return inside
    raise AnchorError(f"{value}: holds neither 64 hex digits nor a PEM key")


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key in hex, as checkpoints carry it."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _read_key_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise AnchorError(f"{path}: no such key file") from None
    except OSError as e:
        raise AnchorError(f"{path}: cannot read the key file ({e.strerror})") from None


# -- checkpoints ------------------------------------------------------------------------------


def signed_bytes(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature is over: the :data:`SIGNED` fields as compact JSON,
    keys sorted, ASCII only (``json.dumps(..., sort_keys=True, separators=(",", ":"))``).

    Every value is a string, an integer or null, which every JSON library writes the same way, so
    a witness in another language can check a signature without lienthong. ``format`` is signed
    too, so a signature over these bytes cannot be passed off as one over anything else.
    """
    fields = {k: checkpoint[k] for k in SIGNED}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def make_checkpoint(
    db: sqlite_utils.Database, private_key: Ed25519PrivateKey, now: datetime
) -> dict[str, Any]:
    """Verify the chain, then sign its head: a dict with the :data:`FIELDS`.

    ``rows`` (how many rows), ``last_id`` (the last row's id, null when there are none), ``head``
    (its hash; :data:`lienthong.audit.GENESIS` when there are none), ``at`` (``now``, ISO 8601 in
    Asia/Ho_Chi_Minh), ``public_key`` (hex) and ``signature`` (hex, over :func:`signed_bytes`).
    ``now`` is passed in because lienthong reads the wall clock only through a Clock.

    Raises AuditError if the chain is already broken: signing it would vouch for the tampering.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    with audit.snapshot(db):
        chain = audit.verify(db)
        if not chain.ok:
            raise AuditError(
                f"the audit chain is broken at row {chain.broken_id} ({chain.reason}): "
                "refusing to sign it"
            )
        rows, last_id, head = _head(db)
    checkpoint: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "rows": rows,
        "last_id": last_id,
        "head": head,
        "at": now.astimezone(VN_TZ).isoformat(),
        "public_key": public_key_hex(private_key),
    }
    checkpoint["signature"] = private_key.sign(signed_bytes(checkpoint)).hex()
    return checkpoint


def checkpoint_line(checkpoint: Mapping[str, Any]) -> str:
    """One line of an anchors file (no newline)."""
    return json.dumps({k: checkpoint[k] for k in FIELDS}, ensure_ascii=True)


def append_anchor(path: str | Path, checkpoint: Mapping[str, Any]) -> None:
    """Append the checkpoint as one line to the anchors file ``path`` (created if missing)."""
    p = Path(path)
    try:
        with p.open("ab") as f:
            # A line cut short by a crash would otherwise swallow this one; left alone, it stays
            # visible as the malformed line it is.
            if f.tell() and not _ends_with_newline(p):
                f.write(b"\n")
            f.write(checkpoint_line(checkpoint).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise AnchorError(f"{path}: cannot append the checkpoint ({e.strerror})") from None


def _ends_with_newline(p: Path) -> bool:
    with p.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def read_anchors(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """The checkpoints of an anchors file with their line numbers (1-based); blank lines are
    skipped. A line that is not a well-formed checkpoint raises AnchorError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnchorError(f"{path}: no such anchors file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AnchorError(f"{path}: cannot read the anchors file ({e})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            checkpoint = json.loads(line)
        except json.JSONDecodeError as e:
            raise AnchorError(f"{path}, line {n}: not JSON ({e.msg}, column {e.colno})") from None
        problem = check_format(checkpoint)
        if problem:
            raise AnchorError(f"{path}, line {n}: {problem}")
        out.append((n, checkpoint))
    return out


def check_format(checkpoint: object) -> str | None:
    """What is wrong with the shape of a checkpoint (fields, types), or None. The signature is
    not checked here."""
    if not isinstance(checkpoint, dict):
        return f"not a checkpoint (a JSON {type(checkpoint).__name__}, not an object)"
    missing = [k for k in FIELDS if k not in checkpoint]
    unknown = sorted(checkpoint.keys() - set(FIELDS))
    if missing:
        return f"not a checkpoint: missing {', '.join(missing)}"
    if unknown:  # unsigned data a reader might trust
        return f"not a checkpoint: unknown fields {', '.join(unknown)}"
    if checkpoint["format"] != FORMAT:
        return f"format {checkpoint['format']!r} is not {FORMAT!r}"
    version = checkpoint["version"]
    if type(version) is not int or version != VERSION:
        return f"version {version!r} is not supported (this lienthong reads {VERSION})"
    rows, last_id = checkpoint["rows"], checkpoint["last_id"]
    if type(rows) is not int or rows < 0:
        return f"rows must be a count, got {rows!r}"
    if (rows == 0 and last_id is not None) or (
        rows > 0 and (type(last_id) is not int or last_id < 1)
    ):
        return f"last_id {last_id!r} does not go with rows {rows}"
    head = checkpoint["head"]
    if not isinstance(head, str) or not _HEX64.fullmatch(head):
        return "head must be 64 lowercase hex digits"
    if (rows == 0) != (head == audit.GENESIS):
        return f"head {head[:16]}… does not go with rows {rows}"
    at = checkpoint["at"]
    try:
        instant = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        instant = None
    if instant is None or instant.utcoffset() is None:
        return f"at must be an ISO 8601 instant with its offset, got {at!r}"
    if not isinstance(checkpoint["public_key"], str) or not _HEX64.fullmatch(
        checkpoint["public_key"]
    ):
        return "public_key must be 64 lowercase hex digits"
    if not isinstance(checkpoint["signature"], str) or not _HEX128.fullmatch(
        checkpoint["signature"]
    ):
        return "signature must be 128 lowercase hex digits"
    return None


# -- verification -----------------------------------------------------------------------------


@attrs.frozen
class AnchoredResult(audit.VerifyResult):
    """What :func:`verify_with_anchors` found: :class:`lienthong.audit.VerifyResult`'s fields,
    how many checkpoints hold, and the position (1-based, in the order given) of the first one
    that was rejected or that the database contradicts."""

    checkpoints: int = 0
    checkpoint: int | None = None


def verify_with_anchors(
    db: sqlite_utils.Database,
    anchors: Iterable[Mapping[str, Any]],
    public_key: str | Ed25519PublicKey | None = None,
    *,
    deep: bool = False,
) -> AnchoredResult:
    """Verify the chain, then that it still holds every checkpoint in ``anchors``; ``deep``:
    then, in the same read transaction, the tables against the state digests
    (:func:`lienthong.store.audit.verify`).

    In turn: the chain itself (:func:`lienthong.store.audit.verify`: the first broken row); every
    checkpoint's shape and signature (and that ``public_key``, hex or a key object, signed it, if
    given: without it, a checkpoint proves only that *some* key signed it); then, from the
    checkpoint with the lowest ``last_id`` up, that the database has a row ``last_id``, exactly
    ``rows`` rows up to it, and that row's hash is ``head``. The first failure is reported, with
    the row it names and the last checkpoint below it that still holds (the rows up to that one
    are exactly as signed).
    """
    expected = None
    if public_key is not None:
        expected = public_key_hex(public_key) if isinstance(public_key, Ed25519PublicKey) else (
            public_key.strip().lower())
    with audit.snapshot(db):
        chain = audit.verify(db)
        if not chain.ok:
            return AnchoredResult(False, chain.rows, chain.broken_id, chain.reason)
        given = list(anchors)
        for i, checkpoint in enumerate(given, 1):
            problem = _check_signature(checkpoint, expected)
            if problem:
                return AnchoredResult(False, chain.rows, None, problem, checkpoint=i)
        held: Mapping[str, Any] | None = None
        order = sorted(enumerate(given, 1), key=lambda p: (p[1]["last_id"] or 0, p[0]))
        for n_held, (i, checkpoint) in enumerate(order):
            found = _contradiction(db, checkpoint)
            if found is not None:
                row, problem = found
                if held is not None:
                    # Named by its instant: positions and file lines need not agree.
                    problem += (f"; the rows up to id {held['last_id']} are as signed at "
                                f"{held['at']}")
                return AnchoredResult(
                    False, chain.rows, row, problem, checkpoints=n_held, checkpoint=i
                )
            if checkpoint["rows"]:  # the empty log's checkpoint bounds nothing
                held = checkpoint
        result = AnchoredResult(True, chain.rows, checkpoints=len(given))
        if not deep:
            return result
        deeper = audit.with_state(result, digests.check(db))
        assert isinstance(deeper, AnchoredResult)
        return deeper


def _check_signature(checkpoint: Mapping[str, Any], expected: str | None) -> str | None:
    problem = check_format(checkpoint)
    if problem:
        return problem
    key = checkpoint["public_key"]
    if expected is not None and key != expected:
        return f"signed by the key {key[:16]}…, not by the expected key {expected[:16]}…"
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(
            bytes.fromhex(checkpoint["signature"]), signed_bytes(checkpoint)
        )
    except (InvalidSignature, ValueError):
        return "its signature does not verify: the checkpoint was altered after it was signed"
    return None


def _contradiction(
    db: sqlite_utils.Database, checkpoint: Mapping[str, Any]
) -> tuple[int, str] | None:
    """(the row to name, why) if the database contradicts the checkpoint."""
    rows, last_id, head = checkpoint["rows"], checkpoint["last_id"], checkpoint["head"]
    if rows == 0:
        return None  # the empty prefix of every chain
    signed = f"the checkpoint of {checkpoint['at']} counted {rows} rows up to id {last_id}"
    found = db.execute("SELECT hash FROM audit WHERE id = ?", [last_id]).fetchone()
    if found is None:
        n, last = db.execute("SELECT COUNT(*), MAX(id) FROM audit").fetchone()
        first_missing = last_id if last is not None and last > last_id else (last or 0) + 1
        now = f"the log has {n} rows" + (f", the last id {last}" if last is not None else "")
        return first_missing, f"row {first_missing} is missing: {now}; {signed} (rows were deleted)"
    (count,) = db.execute("SELECT COUNT(*) FROM audit WHERE id <= ?", [last_id]).fetchone()
    if count != rows:
        return last_id, (f"{count} rows up to id {last_id}, but {signed} "
                         "(rows were deleted or inserted)")
    if found[0] != head:
        return last_id, (f"row {last_id}'s hash is not the one the checkpoint of "
                         f"{checkpoint['at']} signed: rows up to it were changed and the later "
                         "hashes recomputed")
    return None


def _head(db: sqlite_utils.Database) -> tuple[int, int | None, str]:
    rows, last_id = db.execute("SELECT COUNT(*), MAX(id) FROM audit").fetchone()
    if last_id is None:
        return 0, None, audit.GENESIS
    (head,) = db.execute("SELECT hash FROM audit WHERE id = ?", [last_id]).fetchone()
    return rows, last_id, head
