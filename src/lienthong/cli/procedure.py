"""``lienthong procedure``: procedures (thủ tục hành chính) as a designer reads and makes them.

``show FILE|CODE`` prints a procedure's steps in flow order and its paths against the deadline
(:mod:`lienthong.bpmn.summary`); ``new --from TABLE --out FILE`` makes a BPMN file from a
published internal process written as a CSV or TOML table (:mod:`lienthong.bpmn.tables`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lienthong.cli.options import db_option, existing_db, no_stored_org, org_option
from lienthong.errors import OrganisationNotStored, ProcedureError, TableError

if TYPE_CHECKING:
    from lienthong.bpmn.procedures import Procedure

__all__ = ["procedure"]


@click.group()
def procedure() -> None:
    """Procedures (thủ tục hành chính): read one, or make one from a table."""


@procedure.command("show")
@click.argument("source", metavar="FILE|CODE")
@db_option
@org_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text, or json (one object).",
)
@click.option(
    "--paths",
    "limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="List at most this many paths (the heaviest is always shown); count the rest.",
)
def show(source: str, db: str, org: str | None, fmt: str, limit: int) -> None:
    """Print a procedure's steps in flow order (lane, unit role, share, step kind, required
    fields) and every path from the start to an end with its total against the deadline.

    FILE is a BPMN file; CODE a procedure code (or version hash) loaded in the database --db."""
    from lienthong.bpmn.procedures import load_procedure
    from lienthong.bpmn.summary import summarise

    path = Path(source)
    if path.is_file():
        try:
            proc = load_procedure(path)
        except ProcedureError as e:
            raise click.ClickException(_refused(source, e)) from None
    elif path.suffix.lower() == ".bpmn" or path.is_dir():
        raise click.ClickException(f"{source}: no such BPMN file")
    else:
        proc = _stored(source, db, org)
    summary = summarise(proc, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(summary.as_text())


def _refused(source: str, error: ProcedureError) -> str:
    """One line for a file the loader refuses: its one problem, or how many and where to see
    them all."""
    problems = error.problems
    if len(problems) <= 1:
        return str(error).splitlines()[0]
    return (
        f"{source}: {len(problems)} problems refuse the file; 'lienthong lint {source}' lists them"
    )


def _stored(code: str, db: str, org: str | None) -> Procedure:
    from lienthong.engine import Engine

    # Another LienthongError (an unknown code) is the main group's to print.
    try:
        engine = Engine(existing_db(db), org=org, entry_points=False)
    except OrganisationNotStored:
        raise no_stored_org(db) from None
    with engine:
        return engine.procedure(code)


@procedure.command("new")
@click.option(
    "--from",
    "table_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The table of steps: a .csv (as a spreadsheet saves it) or a .toml file.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The BPMN file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def new(table_file: str, out: str, force: bool) -> None:
    """Make a BPMN file from a published internal process (quy trình nội bộ) as a table: a
    lane per unit role, the steps in order with their lienthong properties, a parallel gateway
    for each parallel group, an exclusive one for each choice group, and a diagram.

    A table that cannot make a procedure lienthong loads is refused, each problem with its row
    and column, and nothing is written."""
    from lienthong.bpmn.lint import as_text
    from lienthong.bpmn.tables import read_table, table_bpmn

    target = Path(out)
    if target.exists() and not force:
        raise click.ClickException(f"{out}: the file exists; pass --force to overwrite it")
    try:
        built = table_bpmn(read_table(table_file), name=out)
    except TableError as e:
        lines = str(e).splitlines()
        if len(lines) > 1:  # every problem on its own line, then the one-line error
            click.echo("\n".join(lines[1:]))
            raise click.ClickException(
                f"{table_file}: {len(lines) - 1} problems, nothing written"
            ) from None
        raise click.ClickException(lines[0]) from None
    try:
        target.write_bytes(built.bpmn)
    except OSError as e:
        raise click.ClickException(f"{out}: cannot write: {e.strerror or e}") from None
    table = built.table
    roles = dict.fromkeys(r.role for r in table.rows)
    steps = f"{len(table.rows)} step" + ("s" if len(table.rows) != 1 else "")
    lanes = f"{len(roles)} lane" + ("s" if len(roles) != 1 else "")
    click.echo(f"wrote {out}: procedure {table.code}, {steps} in {lanes} ({', '.join(roles)})")
    if built.warnings:
        click.echo(as_text(list(built.warnings), files=1))
    else:
        click.echo("lint: no problems")
