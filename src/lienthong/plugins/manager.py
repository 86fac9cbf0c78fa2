"""The plugin manager: one per Engine, built by :func:`make_plugin_manager`.

Load order: lienthong's own defaults (:mod:`lienthong.plugins.defaults`, registered as
``lienthong.default_plugins``, on the same public hooks as everyone else), then third-party plugins
from the ``lienthong`` entry-point group, then the plugin objects the caller passes. pluggy calls
later-registered plugins first, so a caller's plugin can override a default answer of a deciding
hook.

Environment:

- ``LIENTHONG_PLUGINS``: a comma-separated list of entry-point names to load; unset loads them all,
  an empty value loads none.
- ``LIENTHONG_TRACE_HOOKS=1``: print every hook call and its result to standard error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points as _entry_points
from typing import Any

import pluggy

from lienthong.errors import LienthongError, PluginError
from lienthong.plugins import defaults, hookspecs

GROUP = "lienthong"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, counting the changes to what is registered (:attr:`changes`), so that
    :class:`HookCaller` may keep what it learnt about a hook until the next change."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.changes = 0

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        out = super().register(plugin, name)
        self.changes += 1
        return out

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        out = super().unregister(plugin, name)
        self.changes += 1
        return out

    def set_blocked(self, name: str) -> None:
        super().set_blocked(name)
        self.changes += 1

    def add_hookspecs(self, module_or_class: Any) -> None:
        super().add_hookspecs(module_or_class)
        self.changes += 1


def make_plugin_manager(
    plugins: Iterable[object] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with the hook specs, the defaults, entry points and ``plugins``."""
    pm = PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    # The defaults keep the name they were first registered under: deployments refer to it.
    pm.register(defaults, name="lienthong.default_plugins")
    if entry_points:
        allowed = os.environ.get("LIENTHONG_PLUGINS")
        names = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
        for ep in _entry_points(group=GROUP):
            if names is not None and ep.name not in names:
                continue
            if pm.get_plugin(ep.name) is not None:
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as e:  # a broken plugin must say which one it is
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {e}") from e
    for p in plugins:
        # A name people can read in errors and in `lienthong plugins`: the module's, or the
        # object's class, numbered if taken.
        base = getattr(p, "__name__", None) or f"{type(p).__module__}.{type(p).__qualname__}"
        name, n = base, 1
        while pm.has_plugin(name):
            n += 1
            name = f"{base}#{n}"
        pm.register(p, name=name)
    if os.environ.get("LIENTHONG_TRACE_HOOKS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    """The name a plugin was registered under."""
    return pm.get_name(plugin) or getattr(plugin, "__name__", None) or repr(plugin)


class HookCaller:
    """Calls hooks by name with keyword arguments; a plugin's exception becomes a PluginError
    that names the plugin, the hook and the dossier."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        # name -> (pluggy's hook caller, implemented?, firstresult?), for as long as the
        # manager's registrations stay as they were (a command calls a dozen hooks).
        self._hooks: dict[str, tuple[Any, bool, bool]] = {}
        self._changes: int | None = None

    def _hook(self, name: str) -> tuple[Any, bool, bool]:
        changes = getattr(self.pm, "changes", None)
        if changes != self._changes or changes is None:
            self._hooks.clear()
            self._changes = changes
        entry = self._hooks.get(name)
        if entry is None:
            hook = getattr(self.pm.hook, name)
            entry = (
                hook,
                bool(hook.get_hookimpls()),
                bool(hook.spec and hook.spec.opts.get("firstresult")),
            )
            self._hooks[name] = entry
        return entry

    def has(self, name: str) -> bool:
        """Whether any loaded plugin implements hook ``name`` (so its arguments are worth
        building)."""
        return self._hook(name)[1]

    def call(self, name: str, _dossier: str | None = None, **kwargs: Any) -> Any:
        """Call hook ``name``; ``_dossier`` is only used in error messages."""
        hook, implemented, firstresult = self._hook(name)
        if not implemented:
            # Nobody listens: skip pluggy's call machinery, which costs more than the answer.
            return None if firstresult else []
        try:
            return hook(**kwargs)
        except LienthongError as e:
            if isinstance(e, PluginError):
                raise
            raise PluginError(self._message(hook, e, name, _dossier)) from e
        except Exception as e:
            raise PluginError(self._message(hook, e, name, _dossier)) from e

    def _message(self, hook: Any, e: BaseException, name: str, dossier: str | None) -> str:
        culprit = "?"
        codes = {impl.function.__code__: impl for impl in hook.get_hookimpls()}
        tb = e.__traceback__
        while tb is not None:
            impl = codes.get(tb.tb_frame.f_code)
            if impl is not None:
                culprit = impl.plugin_name
            tb = tb.tb_next
        where = f" for dossier {dossier}" if dossier else ""
        return f"plugin {culprit!r} failed in hook {name!r}{where}: {type(e).__name__}: {e}"

    def implementations(self) -> dict[str, list[str]]:
        """Plugin name -> the hooks it implements."""
        out: dict[str, list[str]] = {}
        for plugin in self.pm.get_plugins():
            name = plugin_name(self.pm, plugin)
            out[name] = sorted(
                h.name for h in self.pm.get_hookcallers(plugin) or [] if not h.name.startswith("_")
            )
        return dict(sorted(out.items()))
