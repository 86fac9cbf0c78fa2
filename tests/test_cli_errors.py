"""The ``lienthong`` command's errors: one line on standard error (``Error: ...``), a non-zero exit
status, never a traceback, whatever the file or the argument; click's own usage errors and
``--help`` as click prints them.

Through click's CliRunner (the main group as installed) and, for the same cases, as a user runs
it: a process of ``python -m lienthong.cli``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import lienthong
from lienthong import Engine
from lienthong.cli import main
from lienthong.demo import DEMO_ORG


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A lienthong database with no dossier, and the files that are not one."""
    folder = tmp_path_factory.mktemp("cli-errors")
    real = folder / "lienthong.db"
    Engine(real, org=DEMO_ORG, entry_points=False, checkpoints="inline").close()
    text = folder / "notes.txt"
    text.write_text("not a database\n" * 200)
    empty = folder / "empty.db"
    empty.write_bytes(b"")
    other = folder / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    yield {"real": real, "text": text, "empty": empty, "other": other, "folder": folder,
           "missing": folder / "missing.db"}


def one_error_line(result_exit: int, stderr: str, stdout: str = "") -> str:
    assert result_exit != 0
    assert "Traceback" not in stderr + stdout
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def fails(*args: str | Path) -> str:
    result = run(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return one_error_line(result.exit_code, result.stderr, result.stdout)


CASES = {
    "not-a-database": (("dossier", "show", "X", "--db", "{text}"), "not a lienthong database"),
    "missing-file": (("audit", "verify", "--db", "{missing}"), "no such database file"),
    "unknown-dossier": (("dossier", "show", "NOPE-1", "--db", "{real}"), "no dossier 'NOPE-1'"),
    "bad-date": (("calendar", "due", "2025-02-30T09:00", "--days", "1"), "not an ISO 8601"),
}


def _args(args: tuple[str, ...], files: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in files.items()}) for a in args]


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_through_click(files: dict[str, Path], case: str) -> None:
    args, words = CASES[case]
    assert words in fails(*_args(args, files))


def _process(*args: str | bytes) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # The package under test, not whatever else is installed.
    src = str(Path(lienthong.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env.pop("LIENTHONG_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "lienthong.cli", *args],
        capture_output=True, text=True, errors="backslashreplace", env=env, timeout=120,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_from_the_command(files: dict[str, Path], case: str) -> None:
    args, words = CASES[case]
    done = _process(*_args(args, files))
    line = one_error_line(done.returncode, done.stderr, done.stdout)
    assert words in line
    assert done.returncode == 1


def test_an_argument_not_in_utf8_from_the_command(files: dict[str, Path]) -> None:
    # The shell hands over bytes; Python decodes them with lone surrogates, which the store
    # could not keep: refused in one line, printed escaped.
    done = _process("dossier", "show", b"HS\xff", "--db", str(files["real"]))  # type: ignore[arg-type]
    line = one_error_line(done.returncode, done.stderr)
    assert "surrogate" in line and "\\udcff" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("audit", "verify", "--db", "{text}"), "not a lienthong database"),
        (("audit", "verify", "--db", "{empty}"), "not a lienthong database"),
        (("audit", "verify", "--db", "{folder}"), "a folder"),
        (("dossier", "show", "X", "--db", "{empty}"), "not a lienthong database"),
        (("dossier", "show", "X", "--db", "{other}"), "not a lienthong database"),
        (("dossier", "show", "X", "--db", "{folder}"), "a folder"),
        (("dossier", "show", "X", "--db", "{missing}"), "no such database file"),
        (("dossier", "show", "X", "--db", "{real}", "--org", "{text}"), "not valid TOML"),
        (("dossier", "show", "HS\udcff", "--db", "{real}"), "lone surrogate"),
        (("calendar", "due", "2025-01-02", "--days", "1", "--calendar", "{missing}"),
         "not found"),
        (("calendar", "show", "1900"), "outside the years"),
        (("demo", "--db", "{folder}"), "a folder"),
        (("demo", "--db", "{folder}/no/such/dir/x.db", "--dossiers", "1", "--weeks", "1"),
         "unable to open database file"),
    ],
)
def test_files_and_arguments_that_do_not_work(
    files: dict[str, Path], args: tuple[str, ...], words: str
) -> None:
    assert words in fails(*_args(args, files))


def test_reading_a_file_leaves_it_as_it_was(files: dict[str, Path]) -> None:
    """dossier show opens the file read-only first: an Engine would have migrated it."""
    for name in ("empty", "other", "text"):
        before = files[name].read_bytes()
        fails("dossier", "show", "X", "--db", files[name])
        assert files[name].read_bytes() == before


def test_an_unexpected_error_is_one_line_calling_it_a_bug(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("the unforeseen")

    # Inside a guarded method: the Engine makes it an InternalError, the command one line.
    monkeypatch.setattr("lienthong.engine.queries.control_sheet", broken)
    line = fails("dossier", "show", "X", "--db", files["real"])
    assert "unexpected RuntimeError: the unforeseen" in line
    assert "a bug in lienthong" in line and "LIENTHONG_DEBUG=1" in line
    monkeypatch.setenv("LIENTHONG_DEBUG", "1")
    result = run("dossier", "show", "X", "--db", files["real"])
    assert result.exit_code != 0
    assert isinstance(result.exception, lienthong.InternalError)
    assert isinstance(result.exception.__cause__, RuntimeError)


def test_click_keeps_its_own_usage_errors_and_help() -> None:
    unknown = run("nope")
    assert unknown.exit_code == 2
    assert "No such command 'nope'" in unknown.stderr and "Usage:" in unknown.stderr
    bad_option = run("calendar", "due", "2025-01-02", "--days", "many")
    assert bad_option.exit_code == 2
    assert "'many' is not a valid float" in bad_option.stderr
    too_few = run("demo", "--dossiers", "0")
    assert too_few.exit_code == 2 and "0 is not in the range" in too_few.stderr
    assert "Traceback" not in unknown.output + bad_option.output + too_few.output
    helped = run("dossier", "show", "--help")
    assert helped.exit_code == 0 and "control sheet" in helped.stdout
