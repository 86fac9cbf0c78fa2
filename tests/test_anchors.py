"""Signed checkpoints fix the audit chain's past against someone who can write the file.

The attacker here has the database file and plain sqlite3: they drop the append-only triggers,
then delete, reorder, forge or edit rows, recomputing every later hash with audit.canonical as
lienthong would, so that the chain alone still verifies. A checkpoint signed before the tampering
must catch each, through the API and through ``lienthong audit verify --anchors``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lienthong import AuditError, Engine, FixedClock, Organisation, PluginError, hookimpl
from lienthong.cli import audit as cli_audit
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from lienthong.plugins import HookCaller, make_plugin_manager
from lienthong.store import anchors, audit
from support import PROCESSES, FakeAgencies, receive_birth, run_to_end, vn


@dataclass
class Built:
    """A database with three finished dossiers and two checkpoints, the first taken after two
    dossiers (a prefix), the second at the end."""

    folder: Path
    first: dict[str, Any]
    second: dict[str, Any]
    key: str  # public, hex


def _engine(path: Path, clock: FixedClock) -> Engine:
    engine = Engine(str(path), org=Organisation.from_file(DEMO_ORG), clock=clock,
                    plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedures(PROCESSES)
    return engine


def _finish(engine: Engine, clock: FixedClock, name: str) -> None:
    run_to_end(engine, receive_birth(engine, name).code, clock)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("anchored")
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    engine = _engine(folder / "lienthong.db", clock)
    key = anchors.generate_key(folder / "key.pem")
    _finish(engine, clock, "Phạm Thu Hà")
    _finish(engine, clock, "Lê Văn Bình")
    first = anchors.make_checkpoint(engine.db, key, clock.now())
    _finish(engine, clock, "Trần Thị Cúc")
    second = anchors.make_checkpoint(engine.db, key, clock.now())
    engine.close()  # the last connection folds the WAL into the file
    for checkpoint in (first, second):
        anchors.append_anchor(folder / "anchors.jsonl", checkpoint)
    return Built(folder, first, second, anchors.public_key_hex(key))


@pytest.fixture
def work(built: Built, tmp_path: Path) -> Path:
    """A copy of the built folder to tamper with."""
    for name in ("lienthong.db", "anchors.jsonl", "key.pem"):
        shutil.copy(built.folder / name, tmp_path / name)
    return tmp_path


# -- the attacker -------------------------------------------------------------------------------

_CONTENT = (*audit.FIELDS, "format", "state_digest")  # what a row's hash covers (format 2)
_COLS = ("id", *_CONTENT, "prev_hash", "hash")


def _attacker(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    return conn


def _row(conn: sqlite3.Connection, rowid: int) -> dict[str, Any]:
    values = conn.execute(f"SELECT {', '.join(_COLS)} FROM audit WHERE id = ?", [rowid]).fetchone()
    return dict(zip(_COLS, values, strict=True))


def _rechain(conn: sqlite3.Connection) -> None:
    """Recompute every prev_hash and hash, as lienthong computes them (test_audit.py's rule)."""
    prev = audit.GENESIS
    for values in conn.execute(f"SELECT {', '.join(_COLS)} FROM audit ORDER BY id").fetchall():
        row = dict(zip(_COLS, values, strict=True))
        digest = hashlib.sha256(audit.canonical(prev, row)).hexdigest()
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
                     [prev, digest, row["id"]])
        prev = digest


def _swap(conn: sqlite3.Connection, a: int, b: int) -> None:
    """Exchange two rows' contents (their place in the chain), keeping ids and hashes."""
    ra, rb = _row(conn, a), _row(conn, b)
    sets = ", ".join(f"{f} = ?" for f in _CONTENT)
    for target, source in ((a, rb), (b, ra)):
        conn.execute(f"UPDATE audit SET {sets} WHERE id = ?",
                     [*(source[f] for f in _CONTENT), target])


def _forge(conn: sqlite3.Connection, rowid: int, *, like: int) -> None:
    """Insert a forged row at ``rowid``, a copy of row ``like`` with another note, its hash
    chained to the row before it (GENESIS for the first)."""
    row = _row(conn, like)
    row.update(id=rowid, note="Đã nhận đủ hồ sơ (giả mạo)")
    before = conn.execute("SELECT hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1",
                          [rowid]).fetchone()
    row["prev_hash"] = before[0] if before else audit.GENESIS
    row["hash"] = hashlib.sha256(audit.canonical(row["prev_hash"], row)).hexdigest()
    conn.execute(f"INSERT INTO audit ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                 [row[c] for c in _COLS])


def _shift_up(conn: sqlite3.Connection, after: int) -> None:
    """Make room for a row at ``after + 1`` (two steps: ids are unique at every row updated)."""
    conn.execute("UPDATE audit SET id = id + 1000000 WHERE id > ?", [after])
    conn.execute("UPDATE audit SET id = id - 999999 WHERE id > 1000000")


# -- verifying ------------------------------------------------------------------------------------


def _verify(folder: Path, key: str | None = None,
            anchors_file: str = "anchors.jsonl") -> anchors.AnchoredResult:
    lines = anchors.read_anchors(folder / anchors_file)
    conn = sqlite3.connect(folder / "lienthong.db")
    try:
        return anchors.verify_with_anchors(sqlite_utils.Database(conn), [c for _, c in lines], key)
    finally:
        conn.close()


def _plain_verify(folder: Path) -> audit.VerifyResult:
    conn = sqlite3.connect(folder / "lienthong.db")
    try:
        return audit.verify(sqlite_utils.Database(conn))
    finally:
        conn.close()


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _cli_verify(folder: Path, *extra: str | Path) -> Result:
    return _cli("audit", "verify", "--db", folder / "lienthong.db",
                "--anchors", folder / "anchors.jsonl", *extra)


def test_untouched_database_holds_its_checkpoints(built: Built, work: Path) -> None:
    result = _verify(work, built.key)
    assert result.ok and result.checkpoints == 2 and result.rows == built.second["rows"]
    out = _cli_verify(work, "--key", built.key)
    assert out.exit_code == 0, out.output
    assert f"audit chain intact: {built.second['rows']} rows; 2 checkpoints hold" in out.output
    assert f"up to row {built.second['last_id']}" in out.output


def test_checkpoint_fields_and_signed_bytes(built: Built) -> None:
    cp = built.second
    assert list(cp) == list(anchors.FIELDS)
    assert (cp["format"], cp["version"]) == ("lienthong-audit-checkpoint", 1)
    assert cp["rows"] == cp["last_id"] > built.first["rows"] > 0
    assert cp["at"].endswith("+07:00") and cp["at"] > built.first["at"]
    assert cp["public_key"] == built.key
    # A witness without lienthong checks a signature with any JSON and Ed25519 library.
    message = json.dumps({k: cp[k] for k in anchors.SIGNED}, sort_keys=True,
                         separators=(",", ":")).encode("ascii")
    assert anchors.signed_bytes(cp) == message
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp["public_key"])).verify(
        bytes.fromhex(cp["signature"]), message)


def test_deleting_the_last_rows_is_found(built: Built, work: Path) -> None:
    keep = built.second["last_id"] - 3
    _attacker(work / "lienthong.db").execute("DELETE FROM audit WHERE id > ?", [keep])
    assert _plain_verify(work).ok  # the chain alone cannot tell
    result = _verify(work, built.key)
    assert not result.ok and result.checkpoint == 2 and result.broken_id == keep + 1
    assert f"row {keep + 1} is missing" in result.reason and "deleted" in result.reason
    assert f"rows up to id {built.first['last_id']} are as signed at {built.first['at']}" in (
        result.reason)
    out = _cli_verify(work, "--key", built.key)
    assert out.exit_code == 1
    assert f"BROKEN at row {keep + 1} (checkpoint on line 2 of " in out.output


def test_deleting_every_row_is_found(built: Built, work: Path) -> None:
    _attacker(work / "lienthong.db").execute("DELETE FROM audit")
    assert _plain_verify(work) == audit.VerifyResult(True, 0)
    result = _verify(work, built.key)
    assert not result.ok and result.checkpoint == 1 and result.broken_id == 1
    assert "row 1 is missing: the log has 0 rows" in result.reason
    out = _cli_verify(work)
    assert out.exit_code == 1 and "BROKEN at row 1 (checkpoint on line 1 of " in out.output


@pytest.mark.parametrize("recompute", [False, True], ids=["naive", "hashes-recomputed"])
def test_swapping_two_rows_is_found(built: Built, work: Path, recompute: bool) -> None:
    conn = _attacker(work / "lienthong.db")
    _swap(conn, 3, 4)
    if recompute:
        _rechain(conn)
    result = _verify(work, built.key)
    assert not result.ok and result.broken_id is not None
    if recompute:
        assert _plain_verify(work).ok
        # Rows 3 and 4 are in the first checkpoint's prefix: it is the one contradicted.
        assert (result.checkpoint, result.broken_id) == (1, built.first["last_id"])
        assert "hash is not the one" in result.reason and "recomputed" in result.reason
    else:  # the chain names the row itself
        assert (result.checkpoint, result.broken_id) == (None, 3)
        assert result.reason == "its content does not match its hash"
    assert _cli_verify(work, "--key", built.key).exit_code == 1


@pytest.mark.parametrize("recompute", [False, True], ids=["naive", "hashes-recomputed"])
def test_a_forged_first_row_is_found(built: Built, work: Path, recompute: bool) -> None:
    conn = _attacker(work / "lienthong.db")
    _forge(conn, 0, like=1)  # a reception dated before the first one
    if recompute:
        _rechain(conn)
    result = _verify(work, built.key)
    assert not result.ok
    if recompute:
        assert _plain_verify(work).ok
        assert (result.checkpoint, result.broken_id) == (1, built.first["last_id"])
        assert f"{built.first['rows'] + 1} rows up to id {built.first['last_id']}" in result.reason
    else:
        assert (result.checkpoint, result.broken_id) == (None, 1)
        assert "prev_hash does not match" in result.reason


def test_a_forged_row_in_the_middle_is_found(built: Built, work: Path) -> None:
    conn = _attacker(work / "lienthong.db")
    _shift_up(conn, 5)
    _forge(conn, 6, like=5)
    _rechain(conn)
    assert _plain_verify(work).ok
    result = _verify(work, built.key)
    assert (result.ok, result.checkpoint, result.broken_id) == (False, 1, built.first["last_id"])
    out = _cli_verify(work, "--key", built.key)
    assert out.exit_code == 1
    assert f"BROKEN at row {built.first['last_id']} (checkpoint on line 1 of " in out.output


def _rewrite_after_first_checkpoint(built: Built, work: Path) -> int:
    """Edit a row of the third dossier (after the first checkpoint) and recompute the hashes."""
    target = built.first["last_id"] + 2
    conn = _attacker(work / "lienthong.db")
    conn.execute("UPDATE audit SET note = 'Hồ sơ trả đúng hạn', at = ? WHERE id = ?",
                 ["2025-03-03T10:00:00+07:00", target])
    _rechain(conn)
    conn.close()
    return target


def test_an_edit_with_recomputed_hashes_is_found_only_with_anchors(
    built: Built, work: Path
) -> None:
    _rewrite_after_first_checkpoint(built, work)
    # The limit of the chain alone: a rewrite with recomputed hashes passes plain verify.
    assert _plain_verify(work).ok
    plain = _cli("audit", "verify", "--db", work / "lienthong.db")
    assert plain.exit_code == 0 and "audit chain intact" in plain.output
    result = _verify(work, built.key)
    assert (result.ok, result.checkpoints, result.checkpoint) == (False, 1, 2)
    assert result.broken_id == built.second["last_id"]
    # The first checkpoint still holds: the edit is after its row and up to the second's.
    assert f"rows up to id {built.first['last_id']} are as signed at {built.first['at']}" in (
        result.reason)
    out = _cli_verify(work, "--key", built.key)
    assert out.exit_code == 1
    assert f"BROKEN at row {built.second['last_id']} (checkpoint on line 2 of " in out.output


def test_an_altered_checkpoint_is_rejected(built: Built, work: Path) -> None:
    first, second = (work / "anchors.jsonl").read_text().splitlines()
    cp = json.loads(second)
    cp["signature"] = ("0" if cp["signature"][0] != "0" else "1") + cp["signature"][1:]
    moved = dict(json.loads(first), rows=built.first["rows"] - 1,
                 last_id=built.first["last_id"] - 1)  # the claim edited, the signature kept
    for lines, bad_line in (([first, json.dumps(cp)], 2), ([json.dumps(moved), second], 1)):
        (work / "anchors.jsonl").write_text("\n".join(lines) + "\n")
        result = _verify(work, built.key)
        assert (result.ok, result.checkpoint, result.broken_id) == (False, bad_line, None)
        assert "signature does not verify" in result.reason
        out = _cli_verify(work, "--key", built.key)
        assert out.exit_code == 1
        assert f"checkpoint on line {bad_line} of " in out.output and "REJECTED" in out.output


def test_a_rewrite_re_signed_with_another_key_is_refused_when_the_key_is_given(
    built: Built, work: Path
) -> None:
    _rewrite_after_first_checkpoint(built, work)
    # The attacker signs the rewritten chain with a key of their own and replaces the anchors.
    theirs = Ed25519PrivateKey.generate()
    conn = sqlite3.connect(work / "lienthong.db")
    forged = anchors.make_checkpoint(sqlite_utils.Database(conn), theirs, vn(2025, 3, 4, 8, 0))
    conn.close()
    (work / "anchors.jsonl").write_text(anchors.checkpoint_line(forged) + "\n")
    # Without --key the signature is checked against the key the checkpoint itself names...
    unpinned = _cli_verify(work)
    assert unpinned.exit_code == 0 and "note: no --key given" in unpinned.output
    # ...with it, only checkpoints of the expected key count.
    result = _verify(work, built.key)
    assert (result.ok, result.checkpoint) == (False, 1)
    assert f"not by the expected key {built.key[:16]}" in result.reason
    for key in (built.key, work / "key.pem"):  # the hex, or the key file
        out = _cli_verify(work, "--key", key)
        assert out.exit_code == 1 and "checkpoint on line 1 of " in out.output
        assert "REJECTED: signed by the key" in out.output


def test_rows_appended_after_a_checkpoint_still_verify(built: Built, work: Path) -> None:
    clock = FixedClock(vn(2025, 3, 4, 9, 0))
    engine = _engine(work / "lienthong.db", clock)
    _finish(engine, clock, "Đỗ Minh Đức")
    engine.close()
    result = _verify(work, built.key)
    assert result.ok and result.checkpoints == 2 and result.rows > built.second["rows"]
    assert _cli_verify(work, "--key", built.key).exit_code == 0


def test_an_empty_log_checkpoint_holds_anywhere(built: Built, work: Path) -> None:
    key = anchors.load_private_key(work / "key.pem")
    engine = Engine(":memory:", org=Organisation.from_file(DEMO_ORG), entry_points=False)
    empty = anchors.make_checkpoint(engine.db, key, vn(2025, 3, 1, 0, 0))
    engine.close()
    assert (empty["rows"], empty["last_id"], empty["head"]) == (0, None, audit.GENESIS)
    anchors.append_anchor(work / "anchors.jsonl", empty)
    assert _verify(work, built.key).checkpoints == 3


def test_make_checkpoint_refuses_a_broken_chain_and_a_naive_instant(
    built: Built, work: Path
) -> None:
    _attacker(work / "lienthong.db").execute("UPDATE audit SET note = 'x' WHERE id = 2")
    key = anchors.load_private_key(work / "key.pem")
    conn = sqlite3.connect(work / "lienthong.db")
    db = sqlite_utils.Database(conn)
    with pytest.raises(AuditError, match=r"broken at row 2.*refusing to sign"):
        anchors.make_checkpoint(db, key, vn(2025, 3, 5, 8, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        anchors.make_checkpoint(db, key, vn(2025, 3, 5, 8, 0).replace(tzinfo=None))
    conn.close()
    out = _cli("audit", "anchor", "--db", work / "lienthong.db", "--key", work / "key.pem")
    assert out.exit_code == 1 and "refusing to sign" in out.output


# -- the commands ---------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_0600_and_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    out = _cli("audit", "keygen", "--out", key)
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() == anchors.public_key_hex(anchors.load_private_key(key))
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = key.read_bytes()
    again = _cli("audit", "keygen", "--out", key)
    assert again.exit_code == 1 and "already exists" in again.output
    assert key.read_bytes() == before


@dataclass
class Witness:
    seen: list[dict[str, Any]]
    fail: bool = False

    @hookimpl
    def audit_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("witness unreachable")
        self.seen.append(checkpoint)


def _plugins(monkeypatch: pytest.MonkeyPatch, *plugins: object) -> None:
    # The command builds its plugin manager from entry points; give it these plugins instead.
    monkeypatch.setattr(cli_audit, "make_plugin_manager",
                        lambda: make_plugin_manager(plugins, entry_points=False))


def test_anchor_appends_a_line_and_calls_the_hook(
    built: Built, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    witness = Witness([])
    _plugins(monkeypatch, witness)
    out = _cli("audit", "anchor", "--db", work / "lienthong.db", "--key", work / "key.pem",
               "--out", work / "anchors.jsonl")
    assert out.exit_code == 0, out.output
    assert out.stdout == "" and "checkpoint appended to" in out.stderr
    lines = anchors.read_anchors(work / "anchors.jsonl")
    assert [n for n, _ in lines] == [1, 2, 3] and witness.seen == [lines[-1][1]]
    assert (lines[-1][1]["rows"], lines[-1][1]["head"]) == (built.second["rows"],
                                                            built.second["head"])
    printed = _cli("audit", "anchor", "--db", work / "lienthong.db", "--key", work / "key.pem")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == witness.seen[-1]
    assert _cli_verify(work, "--key", built.key).exit_code == 0


def test_a_failing_witness_leaves_the_checkpoint_written(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugins(monkeypatch, Witness([], fail=True))
    out = _cli("audit", "anchor", "--db", work / "lienthong.db", "--key", work / "key.pem",
               "--out", work / "anchors.jsonl")
    assert out.exit_code == 1
    assert "the checkpoint was written to" in out.output
    assert "failed in hook 'audit_checkpoint'" in out.output and "witness unreachable" in out.output
    assert len(anchors.read_anchors(work / "anchors.jsonl")) == 3
    with pytest.raises(PluginError, match="witness unreachable"):
        cli_audit.publish_checkpoint(
            anchors.read_anchors(work / "anchors.jsonl")[0][1],
            HookCaller(make_plugin_manager([Witness([], fail=True)], entry_points=False)))


def _one_line_error(out: Result, *expected: str) -> None:
    assert out.exit_code != 0 and isinstance(out.exception, SystemExit), repr(out.exception)
    assert "Traceback" not in out.output
    [line] = out.output.strip().splitlines()
    assert line.startswith("Error: ")
    for text in expected:
        assert text in line, line


def test_missing_or_bad_key_files(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_PLUGINS", "")
    db = work / "lienthong.db"
    _one_line_error(_cli("audit", "anchor", "--db", db, "--key", work / "nope.pem"),
                    "nope.pem: no such key file")
    (work / "junk.pem").write_text("not a key\n")
    _one_line_error(_cli("audit", "anchor", "--db", db, "--key", work / "junk.pem"),
                    "junk.pem: not a PEM private key")
    _one_line_error(_cli_verify(work, "--key", work / "junk.pem"),
                    "junk.pem: holds neither 64 hex digits nor a PEM key")
    _one_line_error(_cli_verify(work, "--key", "abc123"),
                    "abc123: neither a public key (64 hex digits) nor a key file")
    _one_line_error(_cli("audit", "verify", "--db", db, "--key", work / "key.pem"),
                    "--key needs --anchors")


def test_malformed_anchors_lines_are_named(built: Built, work: Path) -> None:
    good = (work / "anchors.jsonl").read_text().splitlines()
    cases: list[tuple[list[str], str]] = [
        ([good[0], '{"format": "lienthong-audit-checkpoint",'], "line 2: not JSON"),
        ([good[0], "", "[1, 2]"], "line 3: not a checkpoint (a JSON list, not an object)"),
        (['{"rows": 3}'], "line 1: not a checkpoint: missing format"),
        ([json.dumps(dict(json.loads(good[0]), extra=1))], "line 1: not a checkpoint: unknown"),
        ([json.dumps(dict(json.loads(good[0]), version=2))], "line 1: version 2 is not supported"),
        ([json.dumps(dict(json.loads(good[0]), at="3/3/2025"))], "line 1: at must be an ISO"),
    ]
    for lines, expected in cases:
        (work / "anchors.jsonl").write_text("\n".join(lines) + "\n")
        with pytest.raises(anchors.AnchorError, match="line"):
            anchors.read_anchors(work / "anchors.jsonl")
        _one_line_error(_cli_verify(work), "anchors.jsonl, " + expected)
    (work / "anchors.jsonl").write_text("\n")
    _one_line_error(_cli_verify(work), "no checkpoints in it")
    _one_line_error(_cli_verify(work / "elsewhere"), "no such anchors file")


@pytest.mark.parametrize("command", ["verify", "anchor"])
def test_a_file_that_is_not_a_lienthong_database(
    work: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_PLUGINS", "")
    extra = ["--key", str(work / "key.pem")] if command == "anchor" else []
    text = work / "notes.db"
    text.write_text("Sổ theo dõi hồ sơ\n" * 100)
    _one_line_error(_cli("audit", command, "--db", text, *extra),
                    "notes.db: not a lienthong database (file is not a database)")
    other = work / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    _one_line_error(_cli("audit", command, "--db", other, *extra),
                    "other.db: not a lienthong database (no audit table)")
    with sqlite3.connect(other) as conn:  # left as it was: no lienthong tables were added
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["t"]
    conn.close()
    _one_line_error(_cli("audit", command, "--db", work / "missing.db", *extra),
                    "missing.db: no such database file")
    _one_line_error(_cli("audit", command, "--db", work, *extra), "a folder, not a database")
