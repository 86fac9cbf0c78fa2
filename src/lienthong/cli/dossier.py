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


@dossier.command("migrate")
@click.argument("code")
@click.option(
    "--to",
    "to_version",
    metavar="VERSION",
    default=None,
    help="The version to move to: its SHA-256 or its first 8 or more digits.",
)
@click.option("--latest", is_flag=True, help="Move to the procedure's current version.")
@click.option(
    "--officer",
    required=True,
    help="Who moves it: the head or a deputy of the receiving unit or of a unit with an open "
    "step of the dossier.",
)
@db_option
@org_option
def dossier_migrate(
    code: str, to_version: str | None, latest: bool, officer: str, db: str, org: str | None
) -> None:
    """Move running dossier CODE to another version of its procedure (chuyển phiên bản quy
    trình), e.g. the corrected one of a condition it is stuck on.

    The version must be stored in the database: the engine loaded the corrected BPMN file.
    Refused, naming the steps, when a step the dossier ran or has open has no counterpart in
    it. Service steps the move opens are left to 'lienthong work'."""
    from lienthong.engine import Engine

    if latest == (to_version is not None):
        raise click.UsageError("give exactly one of --to VERSION or --latest")
    try:
        engine = Engine(existing_db(db), org=org, entry_points=False, services="worker")
    except OrganisationNotStored:
        raise no_stored_org(db) from None
    with engine:
        before = engine.dossier(code)
        after = engine.migrate(code, to_version, officer=officer)
        old, new = (
            engine.procedure(before.procedure_version),
            engine.procedure(after.procedure_version),
        )
        click.echo(
            f"moved {code} from version {old.version[:12]} ({old.source}) to "
            f"{new.version[:12]} ({new.source}) of {new.code}"
        )
        for step in engine.open_steps(dossier=code):
            due = step.due_at.isoformat() if step.due_at else "no due instant"
            click.echo(
                f"  open step {step.id}  {step.name} ({step.spec_id})  {step.unit}  due {due}"
            )


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
