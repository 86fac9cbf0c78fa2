"""The documentation cannot drift: its Python examples run, every CLI command is documented."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import click
import pytest

from lienthong.cli import main

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize(
    "page",
    [
        "docs/engine.md",
        "docs/sla.md",
        "docs/testing.md",
        "docs/permissions.md",
        "docs/reports.md",
        "docs/forms.md",
        "docs/portal.md",
        "README.md",
    ],
)
def test_python_examples_run(page: str, tmp_path: Path) -> None:
    """Every python block of the page runs, in order, in one namespace, from a scratch folder
    that sees the repository's processes/ and src/ (so no file is written into the checkout)."""
    for name in ("processes", "src"):
        (tmp_path / name).symlink_to(ROOT / name)
    blocks = BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))
    assert blocks, f"{page} has no python example"
    namespace: dict[str, object] = {"__name__": "docs_example"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, code in enumerate(blocks):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(code, f"{page} block {i + 1}", "exec"), namespace)
                except Exception as e:
                    raise AssertionError(f"{page}, python block {i + 1} failed: {e!r}") from e
    finally:
        os.chdir(cwd)


def _commands(group: click.Group, prefix: str = "lienthong") -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, f"{prefix} {name}"))
        else:
            out.append(f"{prefix} {name}")
    return out


def test_every_cli_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [c for c in _commands(main) if f"`{c}" not in text]
    assert missing == []


CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
TOML = re.compile(r"```toml\n(# Lịch làm việc của tỉnh X.*?)```", re.S)


def test_calendar_command_examples_print_what_the_page_says(tmp_path: Path) -> None:
    """Every ``$ lienthong calendar ...`` line of docs/calendar.md, run for real, prints exactly
    the lines that follow it; ``tinh-x.toml`` is the overlay the page shows."""
    import shlex

    from click.testing import CliRunner

    page = (ROOT / "docs" / "calendar.md").read_text(encoding="utf-8")
    [overlay] = TOML.findall(page)
    (tmp_path / "tinh-x.toml").write_text(overlay, encoding="utf-8")
    (tmp_path / "hong.toml").write_text(  # the broken overlay the page shows
        '[hours]\nperiods = [["08:00", "12:00"], ["11:30", "17:00"]]\n', encoding="utf-8")
    runner = CliRunner()
    checked = 0
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in CONSOLE.findall(page):
            lines = block.rstrip("\n").split("\n")
            for i, line in enumerate(lines):
                if not line.startswith("$ lienthong calendar "):
                    continue
                expected = []
                for nxt in lines[i + 1:]:
                    if nxt.startswith("$ "):
                        break
                    expected.append(nxt)
                result = runner.invoke(main, shlex.split(line[len("$ lienthong "):]))
                got = result.output.rstrip("\n").split("\n")
                if result.exit_code != 0:
                    got = [f"Error: {result.output.strip().removeprefix('Error: ')}"]
                assert got == expected, f"{line}\n{result.output}"
                checked += 1
    finally:
        os.chdir(cwd)
    assert checked >= 15
