"""``lienthong dossier``: dossiers (hồ sơ)."""

from __future__ import annotations

import click

from lienthong.cli.options import db_option, existing_db, org_option


@click.group()
def dossier() -> None:
    """Dossiers (hồ sơ)."""


@dossier.command("show")
@click.argument("code")
@db_option
@org_option
def dossier_show(code: str, db: str, org: str | None) -> None:
    """Print the process control sheet (phiếu kiểm soát, Mẫu 06) of dossier CODE."""
    from lienthong.demo import DEMO_ORG
    from lienthong.engine import Engine

    # A LienthongError is the main group's to print (lienthong.cli.Main).
    with Engine(existing_db(db), org=org or DEMO_ORG, entry_points=False) as engine:
        click.echo(engine.control_sheet(code).render())
