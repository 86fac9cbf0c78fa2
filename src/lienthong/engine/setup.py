"""What an Engine is built from before it opens its store: its plugins and its calendar.

Which entry-point plugins load is :func:`lienthong.plugins.manager.choose_entry_points`' rule; the
one thing an engine adds is whether its organisation is *the demo organisation* (lienthong's
``data/demo-org.toml``, the fictitious Tỉnh Mẫu), for the example plugins that apply to it only:
an organisation given is compared with it, and with none given, the one stored in the database.
The command line builds a calendar with :func:`working_calendar` as an engine does, so that
``lienthong calendar`` counts what the engine counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pluggy

from lienthong.legaltime.calendar import Overlay, WorkingCalendar
from lienthong.org import Organisation
from lienthong.plugins.manager import HookCaller, make_plugin_manager
from lienthong.store import orgs

#: lienthong's demo organisation (Tỉnh Mẫu), shipped in the package.
DEMO_ORG = Path(__file__).resolve().parents[1] / "data" / "demo-org.toml"


@cache
def demo_version() -> str:
    """The version (SHA-256 of its data) of the demo organisation."""
    return Organisation.from_file(DEMO_ORG).version


def is_demo(org: Organisation | None = None, *, db: str | None = None) -> bool:
    """Whether ``org`` is the demo organisation; with no ``org``, whether the database file
    ``db`` holds it as its current one."""
    if org is not None:
        return org.version == demo_version()
    return db is not None and orgs.current_version_of_file(db) == demo_version()


def plugin_manager(
    plugins: Iterable[object] = (),
    *,
    entry_points: bool = True,
    enabled: Sequence[str] | None = None,
    source: str = "enabled_plugins=",
    org: Organisation | None = None,
    db: str | None = None,
) -> pluggy.PluginManager:
    """The plugin manager an Engine on ``db`` with ``org`` (``None``: the stored one) builds."""
    demo: Callable[[], bool] = lambda: is_demo(org, db=db)  # noqa: E731 - asked only if needed
    return make_plugin_manager(
        plugins, entry_points=entry_points, enabled=enabled, source=source, demo=demo
    )


def working_calendar(
    hooks: HookCaller, calendar: WorkingCalendar | None = None, overlays: Iterable[Any] = ()
) -> WorkingCalendar:
    """``calendar`` (the default Vietnamese calendar when ``None``), then ``overlays`` (TOML
    paths or :class:`Overlay` objects: a deployment's own), then the plugins' overlays."""
    found = [*overlays, *(o for batch in hooks.call("calendar_overlays") for o in (batch or ()))]
    cal = calendar or WorkingCalendar.default()
    if found:
        cal = cal.with_overlays(
            *(o if isinstance(o, Overlay) else Overlay.load(o) for o in found)
        )
    return cal
