"""``lienthong dossier``: dossiers (hồ sơ)."""

from __future__ import annotations

from datetime import datetime

import click

from lienthong.cli.options import db_option, existing_db, no_stored_org, org_option
from lienthong.errors import OrganisationNotStored
from lienthong.legaltime.clock import VN_TZ


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


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 instant; one without an offset is in Asia/Ho_Chi_Minh."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 instant (e.g. 2026-03-09T08:00+07:00)"
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=VN_TZ)


@dossier.command("diagram")
@click.argument("code")
@click.option("--out", "out", required=True, metavar="X.svg", help="The SVG file to write (- for "
              "standard output).")  # fmt: skip
@click.option("--at", "at", default=None, callback=_instant, metavar="INSTANT",
              help="Show the dossier as it stood at this instant (ISO 8601; default: now). "
              "Without an offset, Vietnam's time.")  # fmt: skip
@db_option
@org_option
def dossier_diagram(code: str, out: str, at: datetime | None, db: str, org: str | None) -> None:
    """Draw dossier CODE's progress on its procedure's diagram, as SVG: each task coloured by
    its steps' state (done early, on time or late; open; open and overdue; not reached;
    cancelled), with a legend."""
    from lienthong.cli.render import write_out
    from lienthong.engine import Engine

    try:
        engine = Engine(existing_db(db), org=org, entry_points=False)
    except OrganisationNotStored:
        raise no_stored_org(db) from None
    with engine:
        svg = engine.dossier_diagram(code, at=at)
    write_out(out, svg)
