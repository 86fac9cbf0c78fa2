"""``lienthong lint PATH...``: every problem of every BPMN file, in one pass.

The output follows bpmnlint's: the file, then one line per problem, ``line:element  severity
message  rule``, with the fix below it, then the count; ``--format json`` prints a JSON list of
objects instead (keys ``file``, ``line``, ``element``, ``name``, ``type``, ``severity``,
``rule``, ``message``, ``fix``). The exit status is 1 when any problem is an error, 0 otherwise,
2 for a bad argument, organisation or configuration.
"""

from __future__ import annotations

import click

from lienthong.bpmn.lint import LintConfig, as_json, as_text, bpmn_files, lint_file
from lienthong.bpmn.problems import ERROR
from lienthong.cli.options import progress
from lienthong.errors import InvalidData, OrganisationError
from lienthong.org import Organisation

__all__ = ["lint"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="PATH...")
@click.option(
    "--org",
    "org_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Organisation TOML file: every lane's role must be held by one of its units.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (like bpmnlint) or json (a list of problems).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Lint configuration (TOML; default: lienthong-lint.toml, or lienthong.toml's [lint], "
    "in the working folder).",
)
def lint(paths: tuple[str, ...], org_file: str | None, fmt: str, config_file: str | None) -> None:
    """Check BPMN files (or every *.bpmn below a folder) against the rules the engine loads
    them by, and report every problem at once."""
    try:
        config = LintConfig.from_file(config_file) if config_file else LintConfig.find()
    except InvalidData as e:
        raise click.UsageError(str(e)) from None
    try:
        org = Organisation.from_file(org_file) if org_file else None
    except OrganisationError as e:
        raise click.UsageError(str(e)) from None
    files = bpmn_files(paths)
    problems = []
    with progress("lint", len(files)) as update:  # a bar only on a terminal
        for i, f in enumerate(files, 1):
            problems.extend(lint_file(f, org=org, config=config))
            update(i, len(files))
    click.echo(as_json(problems) if fmt == "json" else as_text(problems, files=len(files)))
    if any(p.severity == ERROR for p in problems):
        raise click.exceptions.Exit(1)
