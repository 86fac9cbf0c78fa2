"""The plugin manager: one per Engine, built by :func:`make_plugin_manager`.

Load order: lienthong's own defaults (:mod:`lienthong.plugins.defaults`, registered as
``lienthong.default_plugins``, on the same public hooks as everyone else), then third-party plugins
from the ``lienthong`` entry-point group, then the plugin objects the caller passes. pluggy calls
later-registered plugins first, so a caller's plugin can override a default answer of a deciding
hook.

Which entry points load (:func:`choose_entry_points`, docs/plugins.md "Which plugins load"):

- a *list* of names, the deployment's: ``plugins = [...]`` in ``lienthong.toml`` (the command line
  sets it with :func:`configured`), ``LIENTHONG_PLUGINS`` (comma-separated; empty: none), or
  ``enabled=`` given in code, the first of these from the last. Exactly those load; a name no
  installed package provides is an error, with a did-you-mean.
- no list: every installed entry point, except a plugin that declares itself an example for the
  demo organisation (``LIENTHONG_DEMO_ONLY = True`` in its module or object, as the fictitious
  province calendar does), which loads only when ``demo`` says the organisation is the demo's.

``LIENTHONG_TRACE_HOOKS=1`` prints every hook call and its result to standard error.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.metadata import EntryPoint
from importlib.metadata import entry_points as _entry_points
from typing import Any

import attrs
import pluggy

from lienthong.errors import LienthongError, PluginError
from lienthong.plugins import defaults, hookspecs

GROUP = "lienthong"
#: The name lienthong's own defaults are registered under.
DEFAULTS = "lienthong.default_plugins"
#: The attribute with which a plugin says it is an example for the demo organisation only.
DEMO_ONLY = "LIENTHONG_DEMO_ONLY"
ENV = "LIENTHONG_PLUGINS"

#: The configuration's list of plugins (names, and where the list is written), while a command
#: of the command line runs: see :func:`configured`.
_CONFIGURED: ContextVar[tuple[tuple[str, ...], str] | None] = ContextVar(
    "lienthong_configured_plugins", default=None
)


@contextmanager
def configured(names: Sequence[str] | None, source: str) -> Iterator[None]:
    """Within the block, a plugin manager built without ``enabled=`` loads the entry points of
    ``names`` (the ``plugins`` list of the configuration file ``source``), as one built with it
    would: the command line wraps every command in it, so that the commands which build no Engine
    (``lienthong plugins``, ``audit anchor``) load what the Engines do."""
    token = _CONFIGURED.set(None if names is None else (tuple(names), source))
    try:
        yield
    finally:
        _CONFIGURED.reset(token)


@attrs.frozen
class Choice:
    """An installed entry point, whether it loads and why (for ``lienthong plugins``)."""

    name: str
    value: str
    active: bool
    reason: str
    entry_point: EntryPoint | None = attrs.field(default=None, eq=False, repr=False)
    plugin: Any = attrs.field(default=None, eq=False, repr=False)


def demo_only(plugin: object) -> bool:
    """Whether a plugin declares itself an example for the demo organisation only."""
    return getattr(plugin, DEMO_ONLY, False) is True


def _load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as e:  # a broken plugin must say which one it is
        raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {e}") from e


def enabled_list(
    enabled: Sequence[str] | None = None, source: str = "enabled="
) -> tuple[tuple[str, ...], str] | None:
    """The list in force and where it comes from: ``enabled`` when given, else
    ``LIENTHONG_PLUGINS``, else the configuration's (:func:`configured`), else ``None``."""
    if enabled is not None:
        return tuple(enabled), source
    env = os.environ.get(ENV)
    if env is not None:
        return tuple(n.strip() for n in env.split(",") if n.strip()), ENV
    return _CONFIGURED.get()


def choose_entry_points(
    enabled: Sequence[str] | None = None,
    *,
    source: str = "enabled=",
    demo: bool | Callable[[], bool] = False,
) -> list[Choice]:
    """Every installed entry point of the ``lienthong`` group with its decision, by name; the
    active ones loaded (``plugin``). ``demo`` (or what it returns, asked once and only when a
    plugin needs it): the organisation is the demo's."""
    listed = enabled_list(enabled, source)
    eps: dict[str, EntryPoint] = {}
    for ep in _entry_points(group=GROUP):
        eps.setdefault(ep.name, ep)  # the first one found, as importlib finds modules
    out: list[Choice] = []
    if listed is not None:
        names, where = listed
        for name in names:
            if name not in eps:
                near = difflib.get_close_matches(name, sorted(eps), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise PluginError(
                    f"{where}: plugin {name!r} is not installed{hint} (installed: "
                    f"{', '.join(sorted(eps)) or 'none'})"
                )
        for name, ep in sorted(eps.items()):
            if name in names:
                plugin = _load(ep)
                out.append(Choice(name, ep.value, True, f"listed in {where}", ep, plugin))
            else:
                out.append(Choice(name, ep.value, False, f"not enabled: {where} does not list it",
                                  ep))
        return out
    is_demo: bool | None = demo if isinstance(demo, bool) else None
    for name, ep in sorted(eps.items()):
        plugin = _load(ep)
        if not demo_only(plugin):
            out.append(Choice(name, ep.value, True, "installed (no plugins list: every "
                              "installed plugin loads)", ep, plugin))
            continue
        if is_demo is None:
            is_demo = bool(demo())  # type: ignore[operator]
        if is_demo:
            out.append(Choice(name, ep.value, True, "demo only: the organisation is the "
                              "demo's", ep, plugin))
        else:
            out.append(Choice(name, ep.value, False, "demo only: not for this organisation "
                              "(name it in plugins = [...] to use it)", ep))
    return out


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, counting the changes to what is registered (:attr:`changes`), so that
    :class:`HookCaller` may keep what it learnt about a hook until the next change."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.changes = 0
        self.choices: list[Choice] = []

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
    plugins: Iterable[object] = (),
    *,
    entry_points: bool = True,
    enabled: Sequence[str] | None = None,
    source: str = "enabled=",
    demo: bool | Callable[[], bool] = False,
) -> pluggy.PluginManager:
    """A fresh plugin manager with the hook specs, the defaults, the entry points
    :func:`choose_entry_points` chooses (``enabled``, ``source`` and ``demo`` are its) and
    ``plugins``; the choices are kept as ``pm.choices``."""
    pm = PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    # The defaults keep the name they were first registered under: deployments refer to it.
    pm.register(defaults, name=DEFAULTS)
    choices = choose_entry_points(enabled, source=source, demo=demo) if entry_points else []
    for c in choices:
        if c.active and pm.get_plugin(c.name) is None:
            pm.register(c.plugin, name=c.name)
    pm.choices = choices
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
