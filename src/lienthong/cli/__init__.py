"""The ``lienthong`` command: one module per command group, each thin over the public API."""

from __future__ import annotations

import click

# The modules, not their commands: a command named like its module would hide the module.
from lienthong.cli import audit, calendar, demo, dossier, plugins, work


@click.group()
@click.version_option(package_name="lienthong")
def main() -> None:
    """lienthong: one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông)."""


for _command in (demo.demo, audit.audit, dossier.dossier, calendar.calendar, plugins.plugins):
    main.add_command(_command)
main.add_command(work.work)

__all__ = ["main"]
