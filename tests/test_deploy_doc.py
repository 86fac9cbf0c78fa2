"""docs/deploy.md is true: its console blocks run, in order, in one shell, in an empty folder.

Each ``$ `` line is a command (a ``<<'EOF'`` here-document takes the lines up to ``EOF`` with
it); the lines after it, up to the next command, are what it prints: each must match a line of
the output, in order, ``…`` standing for any text and a line of ``…`` alone for any lines. A
command whose output starts with ``Error:`` must fail (exit status 1), every other one succeed.
``lienthong`` and ``python`` are this test's interpreter, so the commands run this checkout.
The systemd units of ``deploy/`` start commands the command line accepts.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "deploy.md"
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)


def commands(page: str) -> list[tuple[str, list[str]]]:
    """(command, expected lines) of every console block, in order."""
    out: list[tuple[str, list[str]]] = []
    for block in CONSOLE.findall(page):
        lines = block.rstrip("\n").split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            assert line.startswith("$ "), f"docs/deploy.md: output with no command: {line!r}"
            command = [line[2:]]
            i += 1
            if "<<'EOF'" in line:
                while lines[i] != "EOF":
                    command.append(lines[i])
                    i += 1
                command.append(lines[i])
                i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            out.append(("\n".join(command), expected))
    return out


def matches(expected: list[str], got: list[str]) -> bool:
    """Every expected line matches a line of ``got``, in order; ``…`` is any text."""
    patterns = [re.compile(".*".join(map(re.escape, e.split("…")))) for e in expected
                if e.strip() != "…"]
    it = iter(got)
    return all(any(p.fullmatch(g) for g in it) for p in patterns)


def test_the_matching_can_fail() -> None:
    assert matches(["a …", "…", "c"], ["a b", "x", "c"])
    assert not matches(["c", "a …"], ["a b", "c"])
    assert not matches(["tick at …: 0 actions"], ["tick at now: 3 actions"])


@pytest.fixture
def shell(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``lienthong`` and ``python`` are this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, args in (("lienthong", "-m lienthong.cli"), ("python", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {args} "$@"\n',
                        encoding="utf-8")
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def test_the_first_day_runs_as_written(tmp_path: Path, shell: dict[str, str]) -> None:
    steps = commands(PAGE.read_text(encoding="utf-8"))
    assert len(steps) >= 20
    folder = tmp_path / "srv"
    folder.mkdir()
    (folder / ".out").mkdir()
    script = []
    for n, (command, _expected) in enumerate(steps):
        if "\n" in command:  # a here-document: its output, if any, is not checked
            script.append(f"{command}\necho $? > .out/{n}.rc")
        else:
            # Braces: a redirection of the command's own (printf ... > file) stays its own.
            script.append(f"{{ {command}; }} > .out/{n} 2>&1\necho $? > .out/{n}.rc")
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, env=shell,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for n, (command, expected) in enumerate(steps):
        rc = int((folder / ".out" / f"{n}.rc").read_text())
        out = (folder / ".out" / str(n)).read_text(encoding="utf-8") \
            if (folder / ".out" / str(n)).exists() else ""
        fails = bool(expected) and expected[0].startswith("Error:")
        assert (rc == 1) if fails else (rc == 0), f"$ {command}\nexit status {rc}\n{out}"
        assert matches(expected, out.splitlines()), f"$ {command}\nprinted:\n{out}"


@pytest.mark.parametrize("unit", sorted((ROOT / "deploy").glob("*.service")), ids=lambda p: p.name)
def test_the_units_start_commands_that_exist(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit, encoding="utf-8")
    service = parser["Service"]
    program, *args = shlex.split(service["ExecStart"])
    assert program == "/opt/lienthong/bin/lienthong"
    assert service["KillSignal"] == "SIGINT"  # the commands stop between two actions on it
    assert "LIENTHONG_CONFIG=" in service["Environment"]
    helped = CliRunner().invoke(main, [*args, "--help"])
    assert helped.exit_code == 0, helped.output
    assert f"deploy/{unit.name}" in PAGE.read_text(encoding="utf-8")
