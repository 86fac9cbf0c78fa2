"""A database made at migration 009 (before the state digests) upgrades to 010 in place: the
migration runner applies only what ``_migrations`` does not list, the old audit rows keep format 1
and verify, and its dossiers are covered by ``verify --deep`` from the next command on them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from lienthong import Engine, FixedClock
from lienthong.store import MIGRATIONS, Store, audit
from support import officer_of, receive_birth, run_to_end

BEFORE = [name for name, _ in MIGRATIONS].index("010_state_digests")


def _made_at_009(path: Path) -> None:
    """A file with the first nine migrations only, recorded in ``_migrations`` as the runner of
    that time recorded them."""
    db = sqlite_utils.Database(str(path))
    for name, fn in MIGRATIONS[:BEFORE]:
        fn(db)
        db.table("_migrations").insert({"name": name}, pk="name")
    db.conn.commit()
    db.close()


def _copy_as_009(source: Path, target: Path) -> None:
    """The rows an engine wrote into ``source``, into the 009 file ``target`` as a lienthong of
    that time would have written them: the same tables, every audit row in format 1 (its hash
    over :data:`lienthong.store.audit.FIELDS` only, with no digest)."""
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS src", [str(source)])
    conn.execute("BEGIN")
    for table in (
        "procedures",
        "organisations",
        "organisation_names",
        "daily_sequence",
        "dossiers",
        "dossier_states",
        "steps",
        "dossier_faults",
    ):
        cols = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
        conn.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}")
    prev = audit.GENESIS
    cols = ("id", *audit.FIELDS)
    for values in conn.execute(f"SELECT {', '.join(cols)} FROM src.audit ORDER BY id").fetchall():
        row = dict(zip(cols, values, strict=True))
        h = audit._digest(prev, row)  # no format: format 1
        conn.execute(
            f"INSERT INTO main.audit ({', '.join(cols)}, prev_hash, hash) "
            f"VALUES ({', '.join('?' * (len(cols) + 2))})",
            [*values, prev, h],
        )
        prev = h
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    conn.close()


@pytest.mark.sqlite_only  # the 009 file is copied with SQLite's ATTACH
@pytest.mark.tampers  # the 009 file is written by hand, as an older lienthong left it
def test_a_database_made_at_009_upgrades_and_is_covered_from_then_on(
    make_engine: Callable[..., Engine], tmp_path: Path, clock: FixedClock
) -> None:
    # Two dossiers as a lienthong at 009 would have stored them: one finished, one half-way.
    lived = make_engine(tmp_path / "lived.db")
    lived.load_procedures(Path(__file__).resolve().parents[1] / "processes")
    done = receive_birth(lived, "Phạm Thu Hà").code
    run_to_end(lived, done, clock)
    going = receive_birth(lived, "Lê Văn Bình").code
    first = lived.open_steps(dossier=going)[0]
    clock.advance(hours=1)
    lived.complete(going, first.id, officer_of(lived, first.unit))
    lived.close()
    old = tmp_path / "at-009.db"
    _made_at_009(old)
    _copy_as_009(tmp_path / "lived.db", old)
    conn = sqlite3.connect(old)
    assert "state_digest" not in {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    conn.close()

    store = Store(old)
    assert [r["name"] for r in store.db["_migrations"].rows][-1] == "010_state_digests"
    assert store.migrate() == []  # applied once
    store.close()
    engine = make_engine(old)
    rows = engine.db.execute("SELECT format, state_digest FROM audit").fetchall()
    assert rows and set(rows) == {(1, None)}  # the old rows as they were
    result = engine.verify_audit(deep=True)
    assert result.ok and result.state is not None
    assert (result.state.checked, result.state.unchecked) == (0, 2)

    # The next command on the dossier vouches for all its rows, the old ones included.
    nxt = engine.open_steps(dossier=going)[0]
    clock.advance(hours=1)
    engine.complete(going, nxt.id, officer_of(engine, nxt.unit), {"birth_certificate_no": "KS-9"})
    assert engine.audit_rows(going)[-1]["format"] == audit.FORMAT
    result = engine.verify_audit(deep=True)
    assert result.ok and result.state is not None
    assert (result.state.checked, result.state.unchecked) == (1, 1)
    engine.db.execute("UPDATE steps SET closed_by = 'someone-else' WHERE id = ?", [first.id])
    engine.db.conn.commit()
    found = engine.verify_audit(deep=True)
    assert found.state is not None
    assert [(p.dossier, p.step_id) for p in found.state.problems] == [(going, first.id)]


def test_a_file_that_has_the_digest_columns_already_upgrades(tmp_path: Path) -> None:
    # A trial build numbered the migration 004: its columns stay, 010 is recorded.
    path = tmp_path / "trial.db"
    _made_at_009(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1")
    conn.execute("ALTER TABLE audit ADD COLUMN state_digest TEXT")
    conn.execute("INSERT INTO _migrations (name) VALUES ('004_state_digests')")
    conn.close()
    store = Store(path)
    try:
        assert "010_state_digests" in {r["name"] for r in store.db["_migrations"].rows}
        cols = [r[1] for r in store.db.execute("PRAGMA table_info(audit)")]
        assert cols.count("format") == cols.count("state_digest") == 1
    finally:
        store.close()
