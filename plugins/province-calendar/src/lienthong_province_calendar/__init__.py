"""lienthong plugin: a province's own working calendar (lịch làm việc riêng của tỉnh).

National holidays, swaps and make-up Saturdays come with lienthong's default calendar. A province
also decides days of its own — a liberation-day anniversary off, a swapped Monday, the Saturday
worked in exchange — and every due instant of its dossiers must know them. This plugin ships
them as a calendar overlay, ``data/tinh-mau.toml`` (the format of ``docs/calendar.md``), and
hands it to lienthong through the ``calendar_overlays`` hook when an Engine builds its calendar.

Tỉnh Mẫu, the demo's province, is fictitious, and so are its days: copy this package, rename it,
list your province's real decisions, each with its source, and drop ``LIENTHONG_DEMO_ONLY``.
Being installed, this example changes no real deployment's calendar: it declares itself for the
demo organisation only, so an Engine loads it for that organisation, or when a configuration's
``plugins = [...]`` names it (``province-calendar``), never otherwise.
"""

from __future__ import annotations

from importlib import resources

from lienthong import Overlay, hookimpl

__all__ = ["LIENTHONG_DEMO_ONLY", "OVERLAY_FILE", "calendar_overlays", "overlay"]

#: An example for the demo organisation (Tỉnh Mẫu) only: see the module's docstring.
LIENTHONG_DEMO_ONLY = True

#: The overlay file shipped in the package.
OVERLAY_FILE = "tinh-mau.toml"


def overlay() -> Overlay:
    """The province's overlay, parsed (read from the package, so it works from a wheel or zip)."""
    text = (resources.files(__name__) / "data" / OVERLAY_FILE).read_text(encoding="utf-8")
    return Overlay.parse(text, origin=f"{__name__}:data/{OVERLAY_FILE}")


@hookimpl
def calendar_overlays() -> list[Overlay]:
    """Tỉnh Mẫu's extra days off and make-up working day."""
    return [overlay()]
