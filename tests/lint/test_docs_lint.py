"""docs/designers.md cannot drift from lint: every rule is in its table with its severity, and
the console example is what the command prints."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from lienthong.bpmn.problems import RULES
from lienthong.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "designers.md").read_text(encoding="utf-8")


def test_every_rule_is_in_the_table_with_its_severity() -> None:
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", PAGE, re.M))
    assert rows == {name: rule.severity for name, rule in RULES.items()}
    assert list(rows) == list(RULES)  # in the order lint knows them


def test_the_console_example_is_what_lint_prints() -> None:
    blocks = re.findall(r"```console\n\$ (lienthong lint tests/\S+)\n(.*?)```", PAGE, re.S)
    assert blocks
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for command, printed in blocks:
            result = CliRunner().invoke(main, shlex.split(command)[1:])
            assert result.output == printed, command
    finally:
        os.chdir(cwd)
