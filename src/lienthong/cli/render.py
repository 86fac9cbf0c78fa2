"""``lienthong render FILE|CODE --out X.svg``: draw a process from its BPMNDI, with each step's
share and the longest path against the deadline (:mod:`lienthong.bpmn.render`).

``SOURCE`` is a BPMN file; when no such file exists and it does not look like a path, it is the
code (or version hash) of a procedure stored in ``--db``. What the drawing could not show, and
a file lint refuses, are warnings on standard error; the picture is still written.
"""

from __future__ import annotations

from pathlib import Path

import click

from lienthong.cli.options import db_option, existing_db, no_stored_org, org_option
from lienthong.errors import OrganisationNotStored

__all__ = ["render", "write_out"]


def write_out(out: str, svg: str) -> None:
    """Write ``svg`` to the file ``out`` (``-``: standard output); a one-line error if it
    cannot be written."""
    if out == "-":
        click.echo(svg, nl=False)
        return
    try:
        Path(out).write_text(svg, encoding="utf-8")
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise click.ClickException(f"{out}: cannot write the picture: {reason}") from None


def _looks_like_a_path(source: str) -> bool:
    return (
        source.lower().endswith((".bpmn", ".xml", ".bpmn20.xml"))
        or "/" in source
        or ("\\" in source)
    )


@click.command()
@click.argument("source", metavar="FILE|CODE")
@click.option("--out", "out", required=True, metavar="X.svg", help="The SVG file to write (- for "
              "standard output).")  # fmt: skip
@db_option
@org_option
def render(source: str, out: str, db: str, org: str | None) -> None:
    """Draw the process of a BPMN FILE, or of the procedure CODE stored in --db, as SVG: lanes,
    tasks, events, gateways and flows from its diagram (BPMNDI), each step's share of the
    deadline, and the longest path's total against the deadline."""
    from lienthong.bpmn.diagram import read_diagram
    from lienthong.bpmn.render import render_svg

    path = Path(source)
    if path.is_file() or _looks_like_a_path(source):
        if path.is_dir():
            raise click.ClickException(f"{source}: a folder, not a BPMN file")
        if not path.exists():
            raise click.ClickException(f"{source}: no such file")
        # Any LienthongError is the main group's to print (lienthong.cli.Main).
        diagram = read_diagram(path)
    else:
        from lienthong.engine import Engine

        try:
            engine = Engine(existing_db(db), org=org, entry_points=False)
        except OrganisationNotStored:
            raise no_stored_org(db) from None
        with engine:
            proc = engine.procedure(source)
        diagram = read_diagram(proc.bpmn, name=proc.source)
    for warning in diagram.warnings:
        click.echo(f"Warning: {diagram.file}: {warning}", err=True)
    write_out(out, render_svg(diagram))
