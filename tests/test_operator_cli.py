"""The operator's commands (docs/cli.md, docs/deploy.md): tick, queue, dossiers, backup, db
upgrade, org check, init, and the demo's closing hints, through the command line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lienthong import Engine, FixedClock, Organisation
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from lienthong.store.backup import pending_migrations
from lienthong.store.schema import MIGRATIONS
from support import ARCHIVE, DESK, KHAI_SINH, FakeAgencies, receive_birth, vn

ARCHIVE_UNIT = "000.01.05.H29"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder of its own, no configuration or database named by the environment."""
    for name in ("LIENTHONG_CONFIG", "LIENTHONG_DB", "LIENTHONG_PLUGINS", "LIENTHONG_ANCHOR_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def province(folder: Path) -> Path:
    """lienthong.db with five khai sinh dossiers received on 3/3/2025 and left alone."""
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    with Engine(folder / "lienthong.db", org=Organisation.from_file(DEMO_ORG), clock=clock,
                plugins=[FakeAgencies()], entry_points=False) as engine:
        engine.load_procedure(KHAI_SINH)
        engine.load_procedure(ARCHIVE)
        for i in range(5):
            clock.advance(minutes=20)
            receive_birth(engine, f"Người nộp {i}")
    return folder / "lienthong.db"


# -- tick ------------------------------------------------------------------------------------------
def test_tick_logs_one_line_per_action_the_dossier_first(province: Path) -> None:
    result = run("tick")
    assert result.exit_code == 0, result.output
    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith("tick at ")
    logged = result.stderr.strip().splitlines()
    n = int(summary[0].split(": ")[1].split()[0])
    assert n == len(logged) > 0
    codes = {r[0] for r in sqlite3.connect(province).execute("SELECT code FROM dossiers")}
    for line in logged:
        code, kind, *rest = line.split()
        assert code in codes and kind in ("warning", "escalated", "apology_required")
        assert rest[-2] == "due"
    again = run("tick", "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["actions"] == []  # nothing twice


def test_tick_at_the_configured_log_level_warning_logs_no_action(province: Path) -> None:
    (province.parent / "lienthong.toml").write_text('log_level = "warning"\n', encoding="utf-8")
    result = run("tick")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "actions" in result.stdout


def test_tick_every_stops_after_max_seconds(province: Path) -> None:
    started = time.monotonic()
    result = run("tick", "--every", "1", "--max-seconds", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("stopped after ")
    assert time.monotonic() - started < 30


# -- queue and dossiers -------------------------------------------------------------------------
def test_queue_of_a_unit_and_of_an_officer(province: Path) -> None:
    unit = json.loads(run("queue", "--unit", DESK, "--format", "json").stdout)
    assert len(unit) == 5 and {r["unit"] for r in unit} == {DESK}
    assert all(r["overdue"] for r in unit)  # the wall clock is long past 2025
    officer = Organisation.from_file(DEMO_ORG).members(DESK)[0].id
    mine = json.loads(run("queue", "--officer", officer, "--format", "json").stdout)
    assert {r["step"] for r in mine} >= {r["step"] for r in unit}
    text = run("queue", "--unit", DESK)
    assert text.exit_code == 0 and text.stdout.startswith(f"5 open steps for unit {DESK}")
    assert text.stdout.count("LATE") == 5


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ((), 2, "exactly one of --unit CODE or --officer ID"),
        (("--unit", DESK, "--officer", "x"), 2, "exactly one of"),
        (("--unit", "nope"), 1, "unknown unit 'nope'"),
        (("--officer", "nope"), 1, "unknown officer 'nope'"),
    ],
)
def test_queue_refuses_in_one_line(province: Path, args: tuple[str, ...], code: int,
                                   words: str) -> None:
    result = run("queue", *args)
    assert result.exit_code == code and words in result.output
    assert "Traceback" not in result.output


def test_dossiers_filters(province: Path) -> None:
    def codes(*args: str) -> list[str]:
        result = run("dossiers", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [r["code"] for r in json.loads(result.stdout)]

    every = codes()
    assert len(every) == 5 and every == sorted(every)
    assert codes("--procedure", "233448") == every
    assert codes("--procedure", "1.013932") == []
    assert codes("--overdue") == every
    status = {r["status"] for r in json.loads(run("dossiers", "--format", "json").stdout)}
    [only] = status
    assert codes("--status", str(only)) == every and codes("--status", "10") == []
    bad = run("dossiers", "--status", "11")
    assert bad.exit_code == 2 and "not a dossier status" in bad.output


def test_a_database_without_an_organisation_and_no_org_is_one_line(folder: Path) -> None:
    """No silent demo view: a database with no organisation stored stops and says so."""
    db = folder / "old.db"
    with Engine(db, org=Organisation.from_file(DEMO_ORG), entry_points=False) as e:
        e.load_procedure(ARCHIVE)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM organisations")
    conn.commit()
    conn.close()
    for args in (("dossier", "show", "X"), ("dossiers",), ("queue", "--unit", DESK)):
        result = run(*args, "--db", db)
        assert result.exit_code == 1 and "no organisation is stored" in result.output, args
    (folder / "lienthong.toml").write_text(f'organisation = "{DEMO_ORG}"\n', encoding="utf-8")
    assert run("dossiers", "--db", db).exit_code == 0  # the configuration's organisation


# -- backup ----------------------------------------------------------------------------------------
WRITER = """
import sys, time
from pathlib import Path
from lienthong import Engine, FixedClock, Organisation
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ
from datetime import datetime
db, stop = sys.argv[1], Path(sys.argv[2])
clock = FixedClock(datetime(2025, 3, 4, 9, 0, tzinfo=VN_TZ))
e = Engine(db, org=Organisation.from_file(DEMO_ORG), clock=clock, entry_points=False)
print("ready", flush=True)
n = 0
while not stop.exists() and n < 5000:
    e.receive("1.013932", applicant={"name": f"Người đọc {n}"}, receiving_unit="000.00.01.H29",
              documents=["phieu_dang_ky_su_dung_tai_lieu"], channel=1)
    n += 1
e.close()
print(n, flush=True)
"""


def test_backup_is_consistent_while_a_writer_runs(province: Path) -> None:
    stop = province.parent / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(province), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # some dossiers in: the backup starts in the middle of the writing
        result = run("backup", "--out", "b.db")
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("backed up lienthong.db to b.db: ")
    written = int(out.strip())
    copy = sqlite3.connect(province.parent / "b.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = copy.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    assert 5 < n < 5 + written  # taken in the middle of the writing
    # One instant: every dossier in the copy has its reception in the copy's audit, and no
    # audit row belongs to a dossier the copy lacks.
    received = {r[0] for r in copy.execute("SELECT dossier FROM audit WHERE event = 'received'")}
    assert received == {r[0] for r in copy.execute("SELECT code FROM dossiers")}
    copy.close()
    verified = run("audit", "verify", "--db", "b.db")
    assert verified.exit_code == 0 and "intact" in verified.output


def test_backup_refuses_what_it_cannot_do(province: Path) -> None:
    (province.parent / "taken.db").write_bytes(b"x")
    assert "exists already" in run("backup", "--out", "taken.db").output
    assert "no such folder" in run("backup", "--out", "no/such/b.db").output
    (province.parent / "text.db").write_text("not sqlite", encoding="utf-8")
    assert "not a lienthong database" in run("backup", "--db", "text.db", "--out", "c.db").output
    assert not (province.parent / "c.db").exists()
    assert not [p for p in province.parent.iterdir() if ".partial-" in p.name]


# -- db upgrade ----------------------------------------------------------------------------------
def _old_database(path: Path, upto: int) -> None:
    """A database made by a lienthong that knew only the first ``upto`` migrations."""
    import sqlite_utils

    db = sqlite_utils.Database(path)
    for name, fn in MIGRATIONS[:upto]:
        with db.conn:
            fn(db)
            db["_migrations"].insert({"name": name}, pk="name")
    db.conn.close()


def test_db_upgrade_backs_up_then_migrates(folder: Path) -> None:
    _old_database(folder / "old.db", 3)
    pending = [name for name, _ in MIGRATIONS[3:]]
    assert pending_migrations(folder / "old.db") == pending
    result = run("db", "upgrade", "--db", "old.db", "--org", DEMO_ORG,
                 "--procedures", ARCHIVE.parent)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("backed up old.db to ") and "old-before-upgrade-" in lines[0]
    backup = Path(lines[0].split(" to ")[1])
    assert pending_migrations(backup) == pending  # the copy is the file as it was
    assert lines[1] == f"upgraded old.db: applied {', '.join(pending)}"
    assert lines[2].startswith("organisation ") and "18 units" in lines[2]
    assert lines[3].startswith("procedures: 8 loaded from ")
    assert pending_migrations(folder / "old.db") == []
    again = run("db", "upgrade", "--db", "old.db")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == "upgraded old.db: no migration to apply"


def test_db_upgrade_creates_a_database_only_with_an_organisation(folder: Path) -> None:
    result = run("db", "upgrade", "--db", "new.db")
    assert result.exit_code == 1 and "needs its organisation" in result.output
    assert not (folder / "new.db").exists()
    made = run("db", "upgrade", "--db", "new.db", "--org", DEMO_ORG)
    assert made.exit_code == 0 and made.stdout.startswith("created new.db: applied 001_initial")


# -- org check, init -------------------------------------------------------------------------------
def test_org_check(folder: Path) -> None:
    ok = run("org", "check", DEMO_ORG)
    assert ok.exit_code == 0 and "18 units, 47 officers" in ok.stdout
    data = json.loads(run("org", "check", DEMO_ORG, "--format", "json").stdout)
    assert data["version"] == Organisation.from_file(DEMO_ORG).version
    bad = folder / "org.toml"
    bad.write_text(DEMO_ORG.read_text(encoding="utf-8").replace("parent =", "parnet =", 1),
                   encoding="utf-8")
    refused = run("org", "check", bad)
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        f"Error: {bad}: [[unit]] #1: unknown key 'parnet'; did you mean 'parent'? (known: code, "
        "name, parent, roles, head, deputies)")


def test_init_writes_a_configuration_once(folder: Path) -> None:
    first = run("init")
    assert first.exit_code == 0 and first.stdout.strip() == "wrote lienthong.toml"
    again = run("init")
    assert again.exit_code == 1 and "exists already" in again.output
    assert run("plugins", "--format", "json").exit_code == 0  # the file it wrote is read


def test_init_with_examples_is_a_deployment_that_runs(folder: Path) -> None:
    result = run("init", "--examples")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "lienthong.toml", "organisation.toml", "procedures"]
    names = sorted(p.name for p in (folder / "procedures").iterdir())
    assert "khai-sinh-thuong-tru-bhyt.bpmn" not in names and len(names) == 6  # no plugin needed
    up = run("db", "upgrade")
    assert up.exit_code == 0, up.output
    assert up.stdout.splitlines()[-1].startswith("procedures: 6 loaded from ")
    assert run("tick").exit_code == 0
    assert run("dossiers").stdout.strip() == "0 dossiers"


# -- the demo --------------------------------------------------------------------------------------
def test_the_demo_never_overwrites_the_configured_database(province: Path) -> None:
    (province.parent / "lienthong.toml").write_text('database = "lienthong.db"\n',
                                                    encoding="utf-8")
    before = province.read_bytes()
    result = run("demo", "--dossiers", "1", "--weeks", "1")
    assert result.exit_code == 1 and "this is the database of lienthong.toml" in result.output
    assert province.read_bytes() == before


def test_the_hints_name_a_command_that_works_as_typed(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lienthong.cli import demo

    script = folder / "bin" / "lienthong"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setattr(demo.shutil, "which", lambda name: str(script))
    assert demo.command_name() == "lienthong"  # on PATH, and that is this very script
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    assert demo.command_name() == str(script.resolve())  # not on PATH: its full path
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr(sys, "executable", str(folder / "nowhere" / "python"))
    assert demo.command_name() == f"{folder / 'nowhere' / 'python'} -m lienthong.cli"
