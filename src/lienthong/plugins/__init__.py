"""Plugins: the hook specifications (:mod:`~lienthong.plugins.hookspecs`, the plugin author's
manual), the plugin manager (:mod:`~lienthong.plugins.manager`) and lienthong's own defaults,
registered on the same public hooks (:mod:`~lienthong.plugins.defaults`)."""

from lienthong.plugins.hookspecs import hookimpl, hookspec
from lienthong.plugins.manager import (
    GROUP,
    HookCaller,
    PluginManager,
    make_plugin_manager,
    plugin_name,
)

__all__ = [
    "GROUP",
    "HookCaller",
    "PluginManager",
    "hookimpl",
    "hookspec",
    "make_plugin_manager",
    "plugin_name",
]
