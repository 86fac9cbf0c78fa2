"""The audit log is append-only and hash-chained; verification names the first broken row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong import Engine, FixedClock, StoreError
from lienthong.cli import main
from lienthong.store import audit
from lienthong.testing.databases import store_for
from support import receive_birth, run_to_end


def _finished(engine: Engine, clock: FixedClock) -> str:
    code = receive_birth(engine, "Phạm Thu Hà", channel=2).code
    run_to_end(engine, code, clock)
    return code


def test_triggers_refuse_update_and_delete(engine: Engine, clock: FixedClock) -> None:
    _finished(engine, clock)
    # sqlite3's own error on SQLite; on PostgreSQL the store's (no psycopg error escapes).
    with pytest.raises((sqlite3.IntegrityError, StoreError), match="append-only"):
        engine.db.execute("UPDATE audit SET note = 'x' WHERE id = 2")
    with pytest.raises((sqlite3.IntegrityError, StoreError), match="append-only"):
        engine.db.execute("DELETE FROM audit WHERE id = 2")


@pytest.mark.sqlite_only  # edits the file's bytes
def test_one_changed_byte_in_the_file_is_found_and_named(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    code = _finished(engine, clock)
    rows = engine.audit_rows(code)
    target = next(r for r in rows if r["event"] == "handoff" and r["to_unit"] == "000.01.60.H29")
    engine.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.close()
    path = tmp_path / "lienthong.db"
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--db", str(path)])
    assert ok.exit_code == 0 and "intact" in ok.output

    # Change one byte of that row's note, found just before the row's own hash in the file
    # (SQLite stores a record's columns in order): the triggers cannot stop an edit of the file.
    raw = bytearray(path.read_bytes())
    own_hash = raw.find((target["prev_hash"] + target["hash"]).encode())
    at = raw.rfind(target["note"].encode("utf-8"), 0, own_hash)
    assert 0 < at < own_hash
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))

    bad = runner.invoke(main, ["audit", "verify", "--db", str(path)])
    assert bad.exit_code == 1
    assert f"row {target['id']}" in bad.output


def test_dossier_show_prints_the_control_sheet(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    code = _finished(engine, clock)
    engine.close()
    out = CliRunner().invoke(
        main, ["dossier", "show", code, "--db", store_for(tmp_path / "lienthong.db")]
    )
    assert out.exit_code == 0, out.output
    for heading in (
        "TÊN CƠ QUAN",
        "THỜI GIAN GIAO, NHẬN HỒ SƠ",
        "KẾT QUẢ GIẢI QUYẾT HỒ SƠ",
        "GHI CHÚ",
        code,
        "Phạm Thu Hà",
    ):
        assert heading in out.output
    missing = CliRunner().invoke(
        main, ["dossier", "show", "NOPE", "--db", store_for(tmp_path / "lienthong.db")]
    )
    assert missing.exit_code != 0 and "NOPE" in missing.output


_VALUES = st.one_of(
    st.none(), st.integers(), st.text(), st.floats(), st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=500, deadline=None)
@given(st.text(), st.fixed_dictionaries({f: _VALUES for f in audit.FIELDS}))
def test_the_hashed_form_of_a_row_never_changes(prev: str, row: dict[str, object]) -> None:
    # Rows written by any version must verify: the canonical bytes are the json module's.
    try:
        expected: bytes | None = json.dumps(
            [prev, *(row[f] for f in audit.FIELDS)], ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate is not UTF-8, whoever writes it
        expected = None
    try:
        got: bytes | None = audit.canonical(prev, row)
    except UnicodeEncodeError:
        got = None
    assert got == expected
