"""``lienthong demo``: the simulated province."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import click

from lienthong.cli.options import DEFAULT_DB, current_config, progress


@click.command()
@click.option(
    "--db",
    "db",
    default=DEFAULT_DB,
    show_default=True,
    metavar="FILE",
    help="The SQLite file the demo writes afresh (never lienthong.toml's database).",
)
@click.option("--dossiers", default=150, show_default=True, type=click.IntRange(min=1),
              help="How many dossiers arrive.")
@click.option("--weeks", default=5, show_default=True, type=click.IntRange(min=1),
              help="Simulated weeks.")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same report.")
def demo(db: str, dossiers: int, weeks: int, seed: int) -> None:
    """Simulate a province's desks for some weeks and print the dashboard.

    The database file (--db) is deleted and written afresh with the demo organisation (Tỉnh
    Mẫu, fictitious) and the sample procedures shipped with lienthong; the example agency
    plugins (plugins/*) answer their service steps when installed, stubs otherwise. It takes
    nothing from lienthong.toml, and refuses to overwrite the database that file names.
    """
    from lienthong.demo import run_demo

    if Path(db).is_dir():  # the demo deletes the file it writes: say so before trying
        raise click.ClickException(f"{db}: a folder, not a database file")
    _not_the_deployments(db)
    try:  # a LienthongError is the main group's to print (lienthong.cli.Main)
        with progress("simulating") as update:
            result = run_demo(
                db, dossiers=dossiers, weeks=weeks, seed=seed, out=click.echo, progress=update
            )
    except OSError as e:  # the old file could not be deleted
        raise click.ClickException(f"{db}: {e.strerror or e}") from None
    result.engine.close()  # stops the checkpoint thread; SQLite checkpoints the rest
    click.echo("")
    prog = command_name()
    where = "" if db == DEFAULT_DB else f" --db {shlex.quote(db)}"
    click.echo(f"Stored in {result.db_path}. Try:")
    if result.sample:
        click.echo(f"  {prog} dossier show {result.sample}{where}")
    click.echo(f"  {prog} audit verify{where}")
    desk = result.engine.org.units_with_role("one-stop-desk")[0].code
    click.echo(f"  {prog} queue --unit {desk}{where}")


def _not_the_deployments(db: str) -> None:
    """The demo deletes its file: never the one the configuration names."""
    try:
        config = current_config()
    except Exception:  # a broken configuration is not the demo's business
        return
    if config.path is None:
        return
    theirs = config.database
    if theirs and Path(theirs).resolve() == Path(db).resolve():
        raise click.ClickException(
            f"{db}: this is the database of {config.path}; the demo deletes and rewrites its "
            "file: give it another with --db FILE"
        )


def command_name() -> str:
    """How to type this command again: ``lienthong`` when that name on PATH is this very
    script, else the script's full path, else ``python -m lienthong.cli`` with this
    interpreter."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    found = shutil.which("lienthong")
    if script is not None and script.name == "lienthong" and script.exists():
        if found and os.path.samefile(found, script):
            return "lienthong"
        return shlex.quote(str(script.resolve()))
    beside = Path(sys.executable).parent / "lienthong"
    if beside.exists():
        if found and os.path.samefile(found, beside):
            return "lienthong"
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m lienthong.cli"
