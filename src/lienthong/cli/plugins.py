"""``lienthong plugins``: which plugins are active and why, from where, the hooks each implements.

The command is attached to the main command with ``main.add_command(plugins)``. It decides as an
Engine on the same database does (:func:`lienthong.engine.setup.plugin_manager`): lienthong's
defaults, then the ``lienthong`` entry points that the deployment's list names (``plugins = [...]``
in ``lienthong.toml``, or ``LIENTHONG_PLUGINS``), or with no list every installed one except the
examples for the demo organisation, which are active only when the organisation (``--org``,
``lienthong.toml``'s, else the one stored in ``--db``) is the demo's. Each installed entry point is
listed, active or not, with the reason; ``--format json`` (or ``--json``) prints the same as JSON.
"""

from __future__ import annotations

import inspect
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click

from lienthong.cli.options import db_option, format_option, org_option
from lienthong.errors import LienthongError
from lienthong.plugins.manager import DEFAULTS, HookCaller, plugin_name

__all__ = ["describe_plugins", "plugins"]


def describe_plugins(org: str | None = None, db: str | None = None) -> list[dict[str, Any]]:
    """One mapping per plugin, lienthong's defaults first, then by name, active or not.

    Keys: ``name``; ``active`` and ``reason`` (why it loads or does not); ``module`` (the
    module, or ``module.Class`` of a plugin object; None when not loaded); ``entry_point`` (the
    entry point's value, or None); ``distribution`` and ``version`` (of the installed package, or
    None); ``hooks`` (the hooks it implements, sorted; empty when not loaded).
    """
    from lienthong.engine.setup import plugin_manager
    from lienthong.org import Organisation

    base = Organisation.from_file(org) if org else None
    pm = plugin_manager(org=base, db=db if db and Path(db).is_file() else None)
    hooks = HookCaller(pm).implementations()
    choices = {c.name: c for c in getattr(pm, "choices", [])}
    out = []
    for plugin in pm.get_plugins():
        name = plugin_name(pm, plugin)
        if inspect.ismodule(plugin):
            module = plugin.__name__
        else:
            module = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        c = choices.get(name)
        out.append({
            "name": name,
            "active": True,
            "reason": "built-in (lienthong's own defaults)" if name == DEFAULTS
            else c.reason if c is not None else "passed in code",
            "module": module,
            "entry_point": c.value if c is not None else None,
            **_distribution(name, c.entry_point if c is not None else None),
            "hooks": hooks.get(name, []),
        })
    for c in choices.values():
        if not c.active:
            out.append({
                "name": c.name,
                "active": False,
                "reason": c.reason,
                "module": None,
                "entry_point": c.value,
                **_distribution(c.name, c.entry_point),
                "hooks": [],
            })
    return sorted(out, key=lambda p: (p["name"] != DEFAULTS, p["name"]))


def _distribution(name: str, ep: Any) -> dict[str, str | None]:
    if name == DEFAULTS:
        return {"distribution": "lienthong", "version": _version("lienthong")}
    dist = getattr(ep, "dist", None) if ep is not None else None
    if dist is None:
        return {"distribution": None, "version": None}
    return {"distribution": dist.metadata["Name"], "version": dist.version}


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return None


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@format_option("text", "json")
@db_option
@org_option
def plugins(as_json: bool, fmt: str, db: str, org: str | None) -> None:
    """List the plugins, active or not and why, and the hooks each active one implements.

    Plugins come from lienthong itself (its defaults) and from the 'lienthong' entry-point group
    of the installed packages: those lienthong.toml's plugins = [...] lists (LIENTHONG_PLUGINS
    over it; empty: none), or with no list every installed one but the examples made for the
    demo organisation, active only for it.
    """
    try:
        found = describe_plugins(org, db)
    except LienthongError as e:  # a broken plugin, a name listed that is not installed
        raise click.ClickException(str(e)) from None
    if as_json or fmt == "json":
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for i, p in enumerate(found):
        if i:
            click.echo("")
        origin = p["distribution"] or "?"
        if p["version"]:
            origin += f" {p['version']}"
        state = "active" if p["active"] else "NOT ACTIVE"
        click.echo(f"{p['name']}  ({origin})  {state}: {p['reason']}")
        if p["entry_point"]:
            click.echo(f"  entry point: {p['entry_point']}")
        elif p["module"]:
            click.echo(f"  module: {p['module']}")
        if p["active"]:
            click.echo(f"  hooks ({len(p['hooks'])}): {', '.join(p['hooks']) or '-'}")
