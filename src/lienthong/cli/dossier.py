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
