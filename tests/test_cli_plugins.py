"""``lienthong plugins``: the loaded plugins and their hooks, as text and as JSON.

The plugins listed come from a throw-away distribution written into a temporary folder on
``sys.path`` (a ``*.dist-info`` with an entry point in the ``lienthong`` group), selected with
``LIENTHONG_PLUGINS``: the tests do not depend on what else is installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong.cli.plugins import plugins

PLUGIN = '''
from lienthong import hookimpl


@hookimpl
def dossier_received(dossier):
    pass


@hookimpl
def handoff(to_step):
    pass
'''


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, module: str,
            source: str) -> None:
    """A distribution ``lienthong-<name>`` 0.3 whose entry point ``name`` is ``module``."""
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    info = tmp_path / f"lienthong_{module}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: lienthong-{name}\nVersion: 0.3\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[lienthong]\n{name} = {module}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "fake", "fakeplug_mod", PLUGIN)
    monkeypatch.setenv("LIENTHONG_PLUGINS", "fake")
    monkeypatch.delenv("LIENTHONG_TRACE_HOOKS", raising=False)


def test_text_lists_one_block_per_plugin(fake):
    result = CliRunner().invoke(plugins, [])
    assert result.exit_code == 0, result.output
    blocks = result.output.strip().split("\n\n")
    # Other installed plugins are listed too, not active: LIENTHONG_PLUGINS does not name them.
    active = [b for b in blocks if "  active: " in b.splitlines()[0]]
    assert len(active) == 2
    default, ours = active
    assert default.splitlines()[0].startswith("lienthong.default_plugins  (lienthong ")
    assert default.splitlines()[0].endswith("active: built-in (lienthong's own defaults)")
    assert "hooks (2): check_documents, compute_fees" in default
    assert ours.splitlines() == [
        "fake  (lienthong-fake 0.3)  active: listed in LIENTHONG_PLUGINS",
        "  entry point: fakeplug_mod",
        "  hooks (2): dossier_received, handoff",
    ]
    for b in blocks:
        if b not in active:
            assert "NOT ACTIVE: not enabled: LIENTHONG_PLUGINS does not list it" in b
            assert "hooks" not in b


def test_json_for_machines(fake):
    result = CliRunner().invoke(plugins, ["--json"])
    assert result.exit_code == 0, result.output
    found = {p["name"]: p for p in json.loads(result.output) if p["active"]}
    assert set(found) == {"lienthong.default_plugins", "fake"}
    assert found["fake"] == {
        "name": "fake",
        "active": True,
        "reason": "listed in LIENTHONG_PLUGINS",
        "module": "fakeplug_mod",
        "entry_point": "fakeplug_mod",
        "distribution": "lienthong-fake",
        "version": "0.3",
        "hooks": ["dossier_received", "handoff"],
    }
    assert found["lienthong.default_plugins"]["hooks"] == ["check_documents", "compute_fees"]
    assert found["lienthong.default_plugins"]["distribution"] == "lienthong"


def test_an_empty_selection_loads_only_the_defaults(fake, monkeypatch):
    monkeypatch.setenv("LIENTHONG_PLUGINS", "")
    result = CliRunner().invoke(plugins, ["--format", "json"])
    assert [p["name"] for p in json.loads(result.output) if p["active"]] == [
        "lienthong.default_plugins"
    ]


def test_a_broken_plugin_is_named(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "broken", "broken_mod", "raise ImportError('no such thing')\n")
    monkeypatch.setenv("LIENTHONG_PLUGINS", "broken")
    result = CliRunner().invoke(plugins, [])
    assert result.exit_code == 1
    assert result.output.startswith("Error: plugin 'broken' (broken_mod) failed to load")
    assert "no such thing" in result.output


def test_attached_to_the_main_command(fake):
    from lienthong.cli import main

    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert "fake" in {p["name"] for p in json.loads(result.output)}


def test_trace_hooks_prints_every_hook_call(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from lienthong.plugins import make_plugin_manager

    monkeypatch.setenv("LIENTHONG_TRACE_HOOKS", "1")
    pm = make_plugin_manager(entry_points=False)
    pm.hook.operations()
    err = capsys.readouterr().err
    assert "operations" in err
    monkeypatch.delenv("LIENTHONG_TRACE_HOOKS")
    make_plugin_manager(entry_points=False).hook.operations()
    assert capsys.readouterr().err == ""
