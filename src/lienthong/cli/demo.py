"""``lienthong demo``: the simulated province."""

from __future__ import annotations

from pathlib import Path

import click

from lienthong.cli.options import db_option


@click.command()
@db_option
@click.option("--dossiers", default=150, show_default=True, type=click.IntRange(min=1),
              help="How many dossiers arrive.")
@click.option("--weeks", default=5, show_default=True, type=click.IntRange(min=1),
              help="Simulated weeks.")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same report.")
def demo(db: str, dossiers: int, weeks: int, seed: int) -> None:
    """Simulate a province's desks for some weeks and print the dashboard.

    The database file is created afresh in the working directory; nothing to configure.
    """
    from lienthong.demo import run_demo

    if Path(db).is_dir():  # the demo deletes the file it writes: say so before trying
        raise click.ClickException(f"{db}: a folder, not a database file")
    try:  # a LienthongError is the main group's to print (lienthong.cli.Main)
        result = run_demo(db, dossiers=dossiers, weeks=weeks, seed=seed, out=click.echo)
    except OSError as e:  # the old file could not be deleted
        raise click.ClickException(f"{db}: {e.strerror or e}") from None
    result.engine.close()  # stops the checkpoint thread; SQLite checkpoints the rest
    click.echo("")
    click.echo(
        f"Stored in {result.db_path}. Try: lienthong dossier show {result.sample} "
        f"--db {result.db_path}   and   lienthong audit verify --db {result.db_path}"
    )
