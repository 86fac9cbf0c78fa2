"""``lienthong plugins``: which plugins load, from where, and which hooks each implements.

The command is attached to the main command with ``main.add_command(plugins)``. It builds a plugin
manager exactly as an Engine does (:func:`lienthong.plugins.make_plugin_manager`: the defaults, then
the ``lienthong`` entry points, limited by ``LIENTHONG_PLUGINS``), so it shows what an Engine
started in the same environment would load. ``--json`` prints the same as machine-readable JSON.
"""

from __future__ import annotations

import inspect
import json
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any

import click

from lienthong.errors import LienthongError
from lienthong.plugins.manager import GROUP, HookCaller, make_plugin_manager, plugin_name

__all__ = ["describe_plugins", "plugins"]

DEFAULTS = "lienthong.default_plugins"  # the name make_plugin_manager registers them under


def describe_plugins() -> list[dict[str, Any]]:
    """One mapping per loaded plugin, lienthong's defaults first, then by name.

    Keys: ``name``; ``module`` (the module, or ``module.Class`` of a plugin object);
    ``entry_point`` (the entry point's value, or None); ``distribution`` and ``version`` (of the
    installed package, or None); ``hooks`` (the hooks it implements, sorted).
    """
    pm = make_plugin_manager()
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    hooks = HookCaller(pm).implementations()
    out = []
    for plugin in pm.get_plugins():
        name = plugin_name(pm, plugin)
        if inspect.ismodule(plugin):
            module = plugin.__name__
        else:
            module = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        ep = eps.get(name)
        dist = getattr(ep, "dist", None) if ep is not None else None
        dist_name: str | None = None
        dist_version: str | None = None
        if name == DEFAULTS:
            dist_name, dist_version = "lienthong", _version("lienthong")
        elif dist is not None:
            dist_name, dist_version = dist.metadata["Name"], dist.version
        out.append({
            "name": name,
            "module": module,
            "entry_point": ep.value if ep is not None else None,
            "distribution": dist_name,
            "version": dist_version,
            "hooks": hooks.get(name, []),
        })
    return sorted(out, key=lambda p: (p["name"] != DEFAULTS, p["name"]))


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return None


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def plugins(as_json: bool) -> None:
    """List the loaded plugins and the hooks each implements.

    Plugins come from lienthong itself (its defaults) and from the 'lienthong' entry-point group of
    the installed packages; LIENTHONG_PLUGINS=name,name limits which entry points load (empty:
    none).
    """
    try:
        found = describe_plugins()
    except LienthongError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for i, p in enumerate(found):
        if i:
            click.echo("")
        origin = p["distribution"] or "?"
        if p["version"]:
            origin += f" {p['version']}"
        click.echo(f"{p['name']}  ({origin})")
        if p["entry_point"]:
            click.echo(f"  entry point: {p['entry_point']}")
        elif p["module"]:
            click.echo(f"  module: {p['module']}")
        click.echo(f"  hooks ({len(p['hooks'])}): {', '.join(p['hooks']) or '-'}")
