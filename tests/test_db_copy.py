"""A whole store copied into a new one (``lienthong db copy``): SQLite to SQLite here, and, with
``LIENTHONG_TEST_DB`` set, SQLite to PostgreSQL and back, since every target below is opened
through ``store_for``. The copy holds every row of every table, the plugins' included; its chain
and state digests verify; an engine goes on with it where the source stopped; and whatever is
refused leaves both stores as they were."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lienthong import Engine, FixedClock, Organisation, StoreError
from lienthong.cli import main
from lienthong.store import stores
from lienthong.store.copy import copy_store
from lienthong.testing.databases import store_for
from support import DESK, PROCESSES, FakeAgencies, receive_birth, run_to_end

#: The table a plugin makes for itself (as the police plugin does), to be copied too.
PLUGIN_TABLE = "agency_records"


def _source(
    path: Path, org: Organisation, clock: FixedClock
) -> dict[str, Counter[tuple[Any, ...]]]:
    """A SQLite store with two finished dossiers, one open, and a plugin's table; its rows."""
    lite = Engine(str(path), org=org, clock=clock, plugins=[FakeAgencies()], entry_points=False)
    lite.load_procedures(PROCESSES)
    for name in ("Phạm Thu Hà", "Lê Văn Bình"):
        run_to_end(lite, receive_birth(lite, name).code, clock)
    receive_birth(lite, "Đỗ Minh Châu")
    lite.db.table(PLUGIN_TABLE).insert_all(
        [{"id": i, "dossier": f"x-{i}", "payload": "dữ liệu", "raw": bytes([i, 0, 255])}
         for i in range(1, 4)],
        pk="id",
    )  # fmt: skip
    lite.close()
    return _rows(str(path))


def _rows(where: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every table's rows but the migrations', as multisets (the stores read in different
    orders), columns by name."""
    db = stores.reader(where) if stores.is_address(where) else None
    conn: Any = db.conn if db is not None else sqlite3.connect(where)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for t in names:
            if t.startswith(("_", "sqlite_")):
                continue
            cols = sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})"))
            out[t] = Counter(
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in conn.execute(f"SELECT {', '.join(cols)} FROM {t}")
            )
        return out
    finally:
        conn.close()


@pytest.fixture
def source(tmp_path: Path, org: Organisation, clock: FixedClock) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "source.db"
    return path, _source(path, org, clock)


def test_a_copy_holds_every_row_and_an_engine_goes_on_with_it(
    source: tuple[Path, dict[str, Any]],
    make_engine: Callable[..., Engine],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    path, rows = source
    target = store_for(tmp_path / "copy.db")
    report = copy_store(path, target)
    assert {t.table: t.rows for t in report.tables} == {t: sum(c.values()) for t, c in rows.items()}
    assert [t.table for t in report.tables if t.made] == [PLUGIN_TABLE]
    assert report.dossiers_checked == 3 and report.audit_rows == sum(rows["audit"].values())
    assert _rows(target) == rows  # every value as it was, the plugin's bytes included
    # An engine on the copy goes on: the day's numbering, the chain and the ids continue.
    codes = {r[0] for r in sqlite3.connect(path).execute("SELECT code FROM dossiers")}
    engine = make_engine(tmp_path / "copy.db")  # the same store (store_for names it again)
    assert {d.code for d in engine.dossiers()} == codes
    d = receive_birth(engine, "Hoàng Văn Đức")
    assert d.code == f"{DESK}-250303-0004"
    run_to_end(engine, d.code, clock)
    found = engine.verify_audit(deep=True)
    assert found.ok and found.rows > report.audit_rows


def test_a_copy_of_the_copy_is_the_source_again(
    source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """There and back (on PostgreSQL: SQLite -> PostgreSQL -> SQLite): the same rows."""
    path, rows = source
    there = store_for(tmp_path / "there.db")
    copy_store(path, there)
    back = tmp_path / "back.db"
    report = copy_store(there, back)
    assert _rows(str(back)) == rows
    last = "SELECT hash FROM audit ORDER BY id DESC LIMIT 1"
    assert report.head == sqlite3.connect(back).execute(last).fetchone()[0]
    assert report.head == sqlite3.connect(path).execute(last).fetchone()[0]


def test_a_store_in_use_is_not_copied_into(
    source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, rows = source
    target = store_for(tmp_path / "copy.db")
    copy_store(path, target)
    with pytest.raises(StoreError, match=r"holds data already \(rows in audit: \d+, dossiers: 3, "):
        copy_store(path, target)
    assert _rows(target) == rows  # the first copy, untouched


def test_a_source_whose_rows_do_not_verify_is_not_copied(
    source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = source
    with sqlite3.connect(path) as conn:  # behind the engine's back: the audit does not know
        conn.execute("UPDATE steps SET closed_by = 'someone.else' WHERE id = 2")
    conn.close()
    target = tmp_path / "copy.db"
    with pytest.raises(StoreError, match=r"its audit does not verify.*none was made"):
        copy_store(path, store_for(target))
    if stores.is_address(store_for(target)):
        assert all(not c for c in _rows(store_for(target)).values())  # migrated, empty
    else:
        assert not target.exists()  # the file it made is gone


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (  # behind this lienthong: upgrade it first
            "DELETE FROM _migrations WHERE name = '010_state_digests'",
            r"lacks the migrations 010_state_digests.*db upgrade",
        ),
        (  # made by a newer one
            "INSERT INTO _migrations (name) VALUES ('099_from_the_future')",
            r"migrations this lienthong does not know \(099_from",
        ),
    ],
)
def test_a_source_at_another_schema_is_refused_and_left_alone(
    change: str, said: str, source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, rows = source
    with sqlite3.connect(path) as conn:
        conn.execute(change)  # _migrations only, which _rows leaves out
    conn.close()
    with pytest.raises(StoreError, match=said):
        copy_store(path, tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()
    assert _rows(str(path)) == rows


@pytest.mark.parametrize("kind", ["other program's", "not a database"])
def test_a_source_that_is_not_a_lienthong_store_is_refused(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    if kind == "not a database":
        path.write_text("hồ sơ\n", encoding="utf-8")
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"other\.db: not a lienthong database"):
        copy_store(path, tmp_path / "copy.db")
    assert path.read_bytes() == before and not (tmp_path / "copy.db").exists()


def test_another_program_s_file_is_not_copied_into(
    source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match=r"other\.db: exists and is not a lienthong database"):
        copy_store(source[0], other)  # the source made, the target another program's
    assert other.read_bytes() == before


def test_the_copy_goes_to_another_store(source: tuple[Path, dict[str, Any]]) -> None:
    path, rows = source
    with pytest.raises(StoreError, match="the target is the source"):
        copy_store(path, path.parent / "." / path.name)
    assert _rows(str(path)) == rows


def test_db_copy_command(source: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, rows = source
    target = store_for(tmp_path / "copy.db")
    run = CliRunner().invoke(main, ["db", "copy", "--from", str(path), "--to", target])
    assert run.exit_code == 0, run.output
    assert f"{sum(sum(c.values()) for c in rows.values())} rows" in run.output
    assert f"{PLUGIN_TABLE}" in run.output and "(table made)" in run.output
    assert "dossiers' rows match their last audit row" in run.output
    assert _rows(target) == rows
    missing = CliRunner().invoke(
        main, ["db", "copy", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "x.db")]
    )
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [
        f"Error: {tmp_path / 'none.db'}: no such database file"
    ]


def test_the_source_s_signed_checkpoints_hold_on_the_copy(
    source: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A checkpoint names rows and hashes, not a store: the anchors file the province kept for
    its file checks the store it moved to."""
    path, _ = source
    key, anchors = tmp_path / "audit-key.pem", tmp_path / "anchors.jsonl"
    target = store_for(tmp_path / "copy.db")

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("audit", "keygen", "--out", str(key))
    run("audit", "anchor", "--db", str(path), "--key", str(key), "--out", str(anchors))
    run("db", "copy", "--from", str(path), "--to", target)
    out = run(
        "audit", "verify", "--deep", "--anchors", str(anchors), "--key", str(key), "--db", target
    )
    assert "1 checkpoint holds" in out and "tables match" in out
