"""``verify --deep``: each audit row carries a digest of its dossier's rows, so an edit of the
``dossiers`` or ``steps`` tables made behind the engine's back is found and named.

The tampering tests edit the tables with a connection of their own, as whoever holds the file
could, and are marked ``tampers`` (support.py otherwise checks that every test leaves the tables
as their audit rows vouch).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong import Engine, FixedClock, InvalidData, Organisation
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from lienthong.store import anchors, audit, digests
from support import PROCESSES, FakeAgencies, officer_of, receive_birth, run_to_end, vn


@dataclass
class Built:
    """A closed file with two dossiers: one finished, one with its steps still open."""

    folder: Path
    done: str  # the finished dossier
    open: str  # a dossier whose second step is open
    key: str  # public key of the checkpoint in anchors.jsonl


def _engine(path: Path, clock: FixedClock) -> Engine:
    engine = Engine(
        str(path),
        org=Organisation.from_file(DEMO_ORG),
        clock=clock,
        plugins=[FakeAgencies()],
        entry_points=False,
    )
    engine.load_procedures(PROCESSES)
    return engine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("deep")
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    engine = _engine(folder / "lienthong.db", clock)
    done = receive_birth(engine, "Phạm Thu Hà").code
    run_to_end(engine, done, clock)
    still = receive_birth(engine, "Lê Văn Bình", channel=2).code
    step = engine.open_steps(dossier=still)[0]
    clock.advance(hours=1)
    engine.complete(still, step.id, officer_of(engine, step.unit), {})
    key = anchors.generate_key(folder / "key.pem")
    anchors.append_anchor(
        folder / "anchors.jsonl", anchors.make_checkpoint(engine.db, key, clock.now())
    )
    engine.close()
    return Built(folder, done, still, anchors.public_key_hex(key))


@pytest.fixture
def work(built: Built, tmp_path: Path) -> Path:
    """A copy of the built folder to tamper with."""
    for name in ("lienthong.db", "anchors.jsonl", "key.pem"):
        shutil.copy(built.folder / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def edit(work: Path) -> Iterator[sqlite3.Connection]:
    """A connection of the attacker's own (the tables have no triggers to drop)."""
    conn = sqlite3.connect(work / "lienthong.db", isolation_level=None)
    yield conn
    conn.close()


def _deep(folder: Path) -> audit.VerifyResult:
    conn = sqlite3.connect(folder / "lienthong.db")
    try:
        return audit.verify(sqlite_utils.Database(conn), deep=True)
    finally:
        conn.close()


def _cli(folder: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        main, ["audit", "verify", "--db", str(folder / "lienthong.db"), *extra]
    )


def _step(conn: sqlite3.Connection, dossier: str, n: int) -> int:
    """The id of the dossier's n-th step (from 0)."""
    ids = [
        r[0] for r in conn.execute("SELECT id FROM steps WHERE dossier = ? ORDER BY id", [dossier])
    ]
    return ids[n]


def _problems(result: audit.VerifyResult) -> list[tuple[str, int | None, str]]:
    assert result.state is not None
    return [(p.dossier, p.step_id, p.what.split(" since ")[0]) for p in result.state.problems]


# -- untouched ----------------------------------------------------------------------------------


def test_untouched_tables_match_their_last_audit_rows(built: Built, work: Path) -> None:
    result = _deep(work)
    assert result.ok and result.state is not None
    assert (result.state.dossiers, result.state.checked, result.state.unchecked) == (2, 2, 0)
    plain = audit.verify(sqlite_utils.Database(sqlite3.connect(work / "lienthong.db")))
    assert plain.ok and plain.state is None and plain.rows == result.rows
    out = _cli(work, "--deep")
    assert out.exit_code == 0, out.output
    assert "tables match: 2 of 2 dossiers" in out.output
    # Without --deep the tables are not looked at.
    assert "tables" not in _cli(work).output


def test_every_audit_row_of_a_dossier_carries_the_digest_of_its_rows_then(
    engine: Engine, clock: FixedClock
) -> None:
    code = receive_birth(engine).code
    rows = engine.audit_rows(code)
    assert [r["format"] for r in rows] == [audit.FORMAT] * len(rows)
    assert rows[-1]["state_digest"] == digests.digest(engine.db, code)
    step = engine.open_steps(dossier=code)[0]
    engine.claim(code, step.id, officer_of(engine, step.unit))
    after = engine.audit_rows(code)
    assert after[-1]["event"] == "claimed"
    assert after[-1]["state_digest"] != rows[-1]["state_digest"]
    assert after[-1]["state_digest"] == digests.digest(engine.db, code)
    assert engine.verify_audit(deep=True).ok


# -- each kind of edit ----------------------------------------------------------------------------

_EDITS: dict[str, tuple[str, str, int | None, str]] = {
    # name: (SQL naming :code and :step, which dossier, which step (n-th) or None, finding)
    "dossier status": (
        "UPDATE dossiers SET status = 10 WHERE code = :code",
        "open",
        None,
        "its dossier row (with its dossier_faults) was changed",
    ),
    "dossier appointment": (
        "UPDATE dossiers SET appointment = '2025-04-30T17:00:00+07:00' WHERE code = :code",
        "done",
        None,
        "its dossier row (with its dossier_faults) was changed",
    ),
    "step closed_by": (
        "UPDATE steps SET closed_by = 'someone-else' WHERE id = :step",
        "done",
        1,
        "the step row was changed",
    ),
    "step due_at": (
        "UPDATE steps SET due_at = '2025-05-30T17:00:00+07:00' WHERE id = :step",
        "open",
        1,
        "the step row was changed",
    ),
    "step deleted": ("DELETE FROM steps WHERE id = :step", "done", 0, "the step row was deleted"),
    "dossier deleted": (
        "DELETE FROM dossiers WHERE code = :code",
        "done",
        None,
        "its dossier row was deleted",
    ),
    "escalated to another officer": (
        "UPDATE steps SET escalated_to = 'attacker' WHERE id = :step",
        "open",
        1,
        "the step row was changed",
    ),
    "a number made a fraction": (
        "UPDATE steps SET share_minutes = share_minutes + 0.5 WHERE id = :step",
        "done",
        2,
        "the step row was changed",
    ),
    "text made a blob of the same bytes": (
        "UPDATE steps SET name = CAST(name AS BLOB) WHERE id = :step",
        "done",
        2,
        "the step row was changed",
    ),
}


@pytest.mark.tampers
@pytest.mark.parametrize("name", list(_EDITS))
def test_an_edit_of_the_tables_is_found_and_named(
    name: str, built: Built, work: Path, edit: sqlite3.Connection
) -> None:
    sql, which, n, finding = _EDITS[name]
    code = built.done if which == "done" else built.open
    step_id = _step(edit, code, n) if n is not None else None
    edit.execute(sql, {"code": code, "step": step_id})
    result = _deep(work)
    assert not result.ok and result.broken_id is None
    assert _problems(result) == [(code, step_id, finding)]
    assert result.reason.startswith(f"dossier {code}")
    out = _cli(work, "--deep")
    assert out.exit_code == 1
    assert "audit chain intact" in out.output  # the chain itself holds
    shown = f"dossier {code}" + (f", step {step_id}" if step_id is not None else "")
    assert f"{shown}: {finding} since audit row" in out.output
    assert "tables CHANGED: 1 difference(s) in 1 of 2 dossiers" in out.output
    # With the checkpoint too: it holds (the audit rows are untouched), the tables do not.
    anchored = _cli(work, "--deep", "--anchors", str(work / "anchors.jsonl"), "--key", built.key)
    assert anchored.exit_code == 1
    assert "1 checkpoint holds" in anchored.output and f"{shown}: {finding}" in anchored.output


@pytest.mark.tampers
def test_an_inserted_step_is_named(built: Built, work: Path, edit: sqlite3.Connection) -> None:
    cols = [r[1] for r in edit.execute("PRAGMA table_info(steps)") if r[1] != "id"]
    first = _step(edit, built.done, 0)
    edit.execute(
        f"INSERT INTO steps ({', '.join(cols)}) SELECT {', '.join(cols)} FROM steps WHERE id = ?",
        [first],
    )
    new_id = edit.execute("SELECT max(id) FROM steps").fetchone()[0]
    assert _problems(_deep(work)) == [(built.done, new_id, "the step row was inserted")]


@pytest.mark.tampers
def test_a_step_moved_to_another_dossier_is_found_in_both(
    built: Built, work: Path, edit: sqlite3.Connection
) -> None:
    moved = _step(edit, built.done, 3)
    edit.execute("UPDATE steps SET dossier = ? WHERE id = ?", [built.open, moved])
    found = _problems(_deep(work))
    assert (built.done, moved, "the step row was deleted") in found
    assert (built.open, moved, "the step row was inserted") in found


@pytest.mark.tampers
def test_a_dossier_no_audit_row_vouches_for_is_named(
    built: Built, work: Path, edit: sqlite3.Connection
) -> None:
    cols = [r[1] for r in edit.execute("PRAGMA table_info(dossiers)") if r[1] != "code"]
    edit.execute(
        f"INSERT INTO dossiers (code, {', '.join(cols)}) SELECT 'FAKE-0001', {', '.join(cols)} "
        "FROM dossiers WHERE code = ?",
        [built.done],
    )
    result = _deep(work)
    assert result.state is not None and result.state.dossiers == 3
    assert [(p.dossier, p.audit_id) for p in result.state.problems] == [("FAKE-0001", None)]
    assert "no audit row vouches for it" in result.reason


@pytest.mark.tampers
def test_a_row_edited_back_to_what_it_was_is_clean(
    built: Built, work: Path, edit: sqlite3.Connection
) -> None:
    step_id = _step(edit, built.done, 1)
    (was,) = edit.execute("SELECT closed_by FROM steps WHERE id = ?", [step_id]).fetchone()
    edit.execute("UPDATE steps SET closed_by = 'someone-else' WHERE id = ?", [step_id])
    assert not _deep(work).ok
    edit.execute("UPDATE steps SET closed_by = ? WHERE id = ?", [was, step_id])
    assert _deep(work).ok


@pytest.mark.tampers
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE steps SET lease_until = '2030-01-01T00:00:00+07:00', leased_by = 'w'",
        "UPDATE steps SET next_attempt_at = '2030-01-01T00:00:00+07:00'",
        "UPDATE dossiers SET apology_fired = 1",
    ],
)
def test_the_columns_left_out_of_the_digest_change_nothing(
    sql: str, work: Path, edit: sqlite3.Connection
) -> None:
    # Job schedules, leases and the tick's reminder flag change without an audit row by design.
    edit.execute(sql)
    assert _deep(work).ok


@pytest.mark.tampers
def test_edits_and_the_audit_chain_are_each_reported(
    built: Built, work: Path, edit: sqlite3.Connection
) -> None:
    # A broken chain is reported first: the digests are only as good as the rows holding them.
    edit.execute("DROP TRIGGER audit_no_update")
    edit.execute("UPDATE audit SET note = 'x' WHERE id = 2")
    edit.execute("UPDATE dossiers SET status = 10 WHERE code = ?", [built.open])
    result = _deep(work)
    assert not result.ok and result.broken_id == 2 and result.state is None
    out = _cli(work, "--deep")
    assert out.exit_code == 1 and "audit chain BROKEN at row 2" in out.output


# -- a later command --------------------------------------------------------------------------


@pytest.mark.tampers
@pytest.mark.parametrize("restart", [False, True], ids=["same engine", "after a restart"])
def test_an_edit_stays_found_after_the_engine_writes_to_the_dossier_again(
    restart: bool, make_engine: Callable[..., Engine], clock: FixedClock, tmp_path: Path
) -> None:
    # The engine digests from what it wrote, over the row hashes its last digest vouched for
    # (kept in memory, or read from the dossier's last audit row): an edit made behind its back
    # to a row it does not write is not vouched for by its next audit row.
    engine = make_engine()
    engine.load_procedures(PROCESSES)
    code = receive_birth(engine).code
    first = engine.open_steps(dossier=code)[0]
    clock.advance(hours=1)
    engine.complete(code, first.id, officer_of(engine, first.unit), {})
    engine.db.execute("UPDATE steps SET closed_by = 'someone-else' WHERE id = ?", [first.id])
    if restart:
        engine.close()
        engine = make_engine()
    nxt = engine.open_steps(dossier=code)[0]
    engine.claim(code, nxt.id, officer_of(engine, nxt.unit))
    result = engine.verify_audit(deep=True)
    assert not result.ok and result.state is not None
    assert [(p.dossier, p.step_id) for p in result.state.problems] == [(code, first.id)]


_HASH = st.binary(min_size=16, max_size=16)


@settings(max_examples=200, deadline=None)
@given(_HASH, st.dictionaries(st.integers(1, 2**62), _HASH, max_size=12))
def test_a_digest_text_holds_every_row_hash(dossier: bytes, steps: dict[int, bytes]) -> None:
    text = digests.compose(dossier, steps)
    assert digests.parse(text) == (dossier, steps)
    assert text.startswith("d:") and len(text.split(" ")) == len(steps) + 1
    # The engine's next digest is made from the text's parts as they are.
    parts = digests.split(text)
    assert parts is not None and sorted(parts[1]) == sorted(steps)
    assert digests.join_parts(*parts) == text


_A = "A" * 22


@pytest.mark.parametrize(
    "text",
    [
        None,
        7,
        "",
        "abc",
        "d:short",
        f"d:{_A} x:y",
        f"d:{_A} 1:{_A}x",
        f"d:{_A}  1:{_A}",
        f"d:{_A} -1:{_A}",
        f"d:{_A} 1:{_A[:21]}!",
        f"d:{_A} 1:{_A} ",
    ],
)
def test_what_is_not_a_digest_text_parses_to_nothing(text: object) -> None:
    assert digests.split(text) is None
    if text in (None, 7, "", "abc", "d:short", f"d:{_A} x:y"):
        assert digests.parse(text) is None


def test_deep_must_be_a_bool(engine: Engine) -> None:
    with pytest.raises(InvalidData, match="deep"):
        engine.verify_audit(deep="yes")  # type: ignore[arg-type]


# -- a database from before the digests ------------------------------------------------------


def _make_old(path: Path) -> None:
    """Turn a file into what a lienthong before migration 010 wrote: no format or digest
    columns, every row's hash over the format-1 fields (the canonical form a property test in
    test_audit.py holds fixed), and 010 not among the applied migrations."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("ALTER TABLE audit DROP COLUMN format")
    conn.execute("ALTER TABLE audit DROP COLUMN state_digest")
    cols = ("id", *audit.FIELDS)
    prev = audit.GENESIS
    for values in conn.execute(f"SELECT {', '.join(cols)} FROM audit ORDER BY id").fetchall():
        row = dict(zip(cols, values, strict=True))
        h = hashlib.sha256(
            json.dumps(
                [prev, *(row[f] for f in audit.FIELDS)], ensure_ascii=False, separators=(",", ":")
            ).encode("utf-8")
        ).hexdigest()
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev, h, row["id"]])
        prev = h
    conn.execute(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    )
    conn.execute("DELETE FROM _migrations WHERE name = '010_state_digests'")
    conn.close()


@pytest.mark.tampers  # the file is rewritten as an older lienthong would have left it
def test_a_database_from_before_the_digests_still_verifies_and_is_covered_from_then_on(
    built: Built, work: Path
) -> None:
    path = work / "lienthong.db"
    _make_old(path)
    # Before the upgrade (the CLI never migrates): the chain holds, nothing to check deeply.
    out = _cli(work, "--deep")
    assert out.exit_code == 0, out.output
    assert "2 dossier(s) last written before state digests" in out.output
    assert "tables match: 0 of 2 dossiers" in out.output
    # The upgrade adds the columns; the old rows keep format 1 and verify as they are.
    engine = _engine(path, FixedClock(vn(2025, 3, 10, 9, 0)))
    try:
        rows = engine.audit_rows(built.open)
        assert {r["format"] for r in rows} == {1} and {r["state_digest"] for r in rows} == {None}
        result = engine.verify_audit(deep=True)
        assert result.ok and result.state is not None
        assert (result.state.checked, result.state.unchecked) == (0, 2)
        # The next command on a dossier covers it.
        step = engine.open_steps(dossier=built.open)[0]
        engine.claim(built.open, step.id, officer_of(engine, step.unit))
        assert engine.audit_rows(built.open)[-1]["format"] == 2
        result = engine.verify_audit(deep=True)
        assert result.ok and result.state is not None
        assert (result.state.checked, result.state.unchecked) == (1, 1)
    finally:
        engine.close()
    # From then on an edit of that dossier is found; the other one is not checked yet.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE steps SET due_at = NULL WHERE dossier = ?", [built.open])
    conn.execute("UPDATE steps SET due_at = NULL WHERE dossier = ?", [built.done])
    conn.close()
    assert {p.dossier for p in _deep(work).state.problems} == {built.open}  # type: ignore[union-attr]


@pytest.mark.tampers
def test_a_format_1_row_after_digests_began_is_named(built: Built, work: Path) -> None:
    # As a lienthong older than migration 010 would append to an upgraded file.
    conn = sqlite3.connect(work / "lienthong.db", isolation_level=None)
    prev = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()[0]
    row = {f: None for f in audit.FIELDS}
    row.update(dossier=built.open, event="claimed", at="2025-03-04T09:00:00+07:00")
    h = hashlib.sha256(audit.canonical(prev, row)).hexdigest()
    conn.execute(
        f"INSERT INTO audit ({', '.join(audit.FIELDS)}, prev_hash, hash) "
        f"VALUES ({', '.join('?' * (len(audit.FIELDS) + 2))})",
        [*row.values(), prev, h],
    )
    conn.close()
    result = _deep(work)
    assert audit.verify(sqlite_utils.Database(sqlite3.connect(work / "lienthong.db"))).ok
    assert not result.ok and result.state is not None
    (problem,) = result.state.problems
    assert problem.dossier == built.open and "carries no state digest" in problem.what


# -- properties -------------------------------------------------------------------------------

_VALUES = st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.text(), st.fixed_dictionaries({f: _VALUES for f in (*audit.FIELDS, "state_digest")}))
def test_the_hashed_form_of_a_format_2_row_never_changes(prev: str, row: dict[str, Any]) -> None:
    row["format"] = 2
    try:
        expected: bytes | None = json.dumps(
            [prev, 2, *(row[f] for f in audit.FIELDS), row["state_digest"]],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
    except UnicodeEncodeError:
        expected = None
    try:
        got: bytes | None = audit.canonical(prev, row)
    except UnicodeEncodeError:
        got = None
    assert got == expected
    # Never the bytes of a format-1 row: the format cannot be changed without the hash.
    if got is not None:
        assert got != audit.canonical(prev, {**row, "format": 1})


_CELL = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.floats(allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_CELL, min_size=3, max_size=3), min_size=1, max_size=5),
    st.data(),
)
def test_a_change_of_any_one_value_is_located_in_its_row(
    cells: list[list[Any]], data: st.DataObject
) -> None:
    dossier = ["D-1", 4, "x"]
    steps = [[i + 1, *row] for i, row in enumerate(cells)]
    vouched = digests.encode(dossier, steps)
    target = data.draw(st.integers(0, len(steps)), label="row (0: the dossier)")
    column = data.draw(st.integers(1, 3), label="column")
    row = dossier if target == 0 else steps[target - 1]
    new = data.draw(_CELL.filter(lambda v: not _same(v, row[column % len(row)])), label="value")
    was = row[column % len(row)]
    row[column % len(row)] = new
    found = digests._locate("D-1", 9, vouched, digests.encode(dossier, steps), False)
    assert [(p.step_id, p.what) for p in found] == [
        (
            None if target == 0 else target,
            ("its dossier row (with its dossier_faults)" if target == 0 else "the step row")
            + " was changed since audit row 9",
        )
    ]
    row[column % len(row)] = was
    assert digests.encode(dossier, steps) == vouched


def _same(a: Any, b: Any) -> bool:
    """Equal as SQLite would hand them back (1 and 1.0 and True are not the same value)."""
    return type(a) is type(b) and a == b


_PLAIN_CELL = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=12),
    st.sampled_from(["null", '{"x": null}', "nullable"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PLAIN_CELL, min_size=1, max_size=30))
def test_the_engine_hashes_the_rows_it_wrote_as_verify_hashes_them_read(row: list[Any]) -> None:
    # The tracker hashes values it checked (text, 64-bit integers, nulls) the fast way; verify
    # hashes what it reads, whatever it is: the two must agree on every such row.
    assert digests.plain_digest(row) == digests.row_digest(row)
    assert digests.row_digest(row) == digests.row_digest(tuple(row))
