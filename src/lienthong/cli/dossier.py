"""``lienthong dossier``: dossiers (hồ sơ)."""

from __future__ import annotations

import click

from lienthong.cli.options import db_option, existing_db, no_stored_org, org_option
from lienthong.errors import OrganisationNotStored


@click.group()
def dossier() -> None:
    """Dossiers (hồ sơ)."""


@dossier.command("show")
@click.argument("code")
@db_option
@org_option
def dossier_show(code: str, db: str, org: str | None) -> None:
    """Print the process control sheet (phiếu kiểm soát, Mẫu 06) of dossier CODE.

    Units and officers are named from the organisations stored in the database; --org is needed
    only for a database written before lienthong stored them."""
    from lienthong.engine import Engine

    # Any other LienthongError is the main group's to print (lienthong.cli.Main).
    try:
        engine = Engine(existing_db(db), org=org, entry_points=False)
    except OrganisationNotStored:
        raise no_stored_org(db) from None
    with engine:
        click.echo(engine.control_sheet(code).render())
