"""The ``lienthong`` command: one module per command group, each thin over the public API."""

from __future__ import annotations

import click

from lienthong.cli.audit import audit
from lienthong.cli.calendar import calendar
from lienthong.cli.demo import demo
from lienthong.cli.dossier import dossier
from lienthong.cli.plugins import plugins


@click.group()
@click.version_option(package_name="lienthong")
def main() -> None:
    """lienthong: one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông)."""


for _command in (demo, audit, dossier, calendar, plugins):
    main.add_command(_command)

__all__ = ["main"]
