"""BPMN scripts run under RestrictedPython unless the deployment opts into full Python."""

from __future__ import annotations

import pytest

from lienthong.bpmn.scripts import RestrictedEnvironment, check_script, make_script_engine
from lienthong.errors import ScriptError


@pytest.mark.parametrize(
    ("script", "word"),
    [
        ("import os", "import os"),
        ("from subprocess import run", "from subprocess import run"),
        ("x = ().__class__.__bases__", "__class__"),
        ("x = __import__('os')", "__import__"),
        ("exec('1')", "Exec"),
    ],
)
def test_refused_at_load(script: str, word: str) -> None:
    with pytest.raises(ScriptError, match=word.replace("(", r"\(")):
        check_script(script)


def test_full_python_is_an_explicit_choice() -> None:
    check_script("import os", restricted=False)
    with pytest.raises(ScriptError):
        make_script_engine("anything")


def test_restricted_environment_runs_plain_data_scripts() -> None:
    env = RestrictedEnvironment()
    ctx = {"fee": 10, "docs": ["a", "b"]}
    env.execute("total = fee * len(docs)\nnames = sorted(docs)\nfee += 1", ctx)
    assert ctx == {"fee": 11, "docs": ["a", "b"], "total": 20, "names": ["a", "b"]}
    assert env.evaluate("total > 10 and 'a' in names", ctx) is True


@pytest.mark.parametrize("expr", ["open('/etc/passwd')", "__import__('os')", "eval('1')"])
def test_restricted_environment_has_no_dangerous_builtins(expr: str) -> None:
    with pytest.raises((NameError, SyntaxError, ScriptError)):
        RestrictedEnvironment().evaluate(expr, {})
