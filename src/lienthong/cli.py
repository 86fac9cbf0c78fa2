"""The ``lienthong`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import LienthongError

DEFAULT_DB = "lienthong.db"


def _db_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--db",
        "db",
        default=lambda: os.environ.get("LIENTHONG_DB", DEFAULT_DB),
        show_default=f"$LIENTHONG_DB or {DEFAULT_DB}",
        help="The SQLite file.",
    )(f)


def _org_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--org",
        "org",
        type=click.Path(dir_okay=False),
        default=None,
        help="Organisation TOML file (default: the demo organisation).",
    )(f)


def _existing_db(db: str) -> str:
    if not Path(db).exists():
        raise click.ClickException(f"{db}: no such database file (run 'lienthong demo' first?)")
    return db


@click.group()
@click.version_option(package_name="lienthong")
def main() -> None:
    """lienthong: one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông)."""


@main.command()
@_db_option
@click.option("--dossiers", default=150, show_default=True, help="How many dossiers arrive.")
@click.option("--weeks", default=5, show_default=True, help="Simulated weeks.")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same report.")
def demo(db: str, dossiers: int, weeks: int, seed: int) -> None:
    """Simulate a province's desks for some weeks and print the dashboard.

    The database file is created afresh in the working directory; nothing to configure.
    """
    from .demo import run_demo

    try:
        result = run_demo(db, dossiers=dossiers, weeks=weeks, seed=seed, out=click.echo)
    except LienthongError as e:
        raise click.ClickException(str(e)) from None
    result.engine.close()  # stops the checkpoint thread; SQLite checkpoints the rest
    click.echo("")
    click.echo(
        f"Stored in {result.db_path}. Try: lienthong dossier show {result.sample} "
        f"--db {result.db_path}   and   lienthong audit verify --db {result.db_path}"
    )


@main.group()
def audit() -> None:
    """The audit log (append-only, hash-chained)."""


@audit.command("verify")
@_db_option
def audit_verify(db: str) -> None:
    """Check the hash chain; name the first broken row. Exit status 1 if broken."""
    from .audit import verify
    from .store import Store

    store = Store(_existing_db(db))
    try:
        result = verify(store.db)
    finally:
        store.close()
    if result.ok:
        click.echo(f"audit chain intact: {result.rows} rows")
        return
    click.echo(f"audit chain BROKEN at row {result.broken_id}: {result.reason}", err=True)
    sys.exit(1)


@main.group()
def dossier() -> None:
    """Dossiers (hồ sơ)."""


@dossier.command("show")
@click.argument("code")
@_db_option
@_org_option
def dossier_show(code: str, db: str, org: str | None) -> None:
    """Print the process control sheet (phiếu kiểm soát, Mẫu 06) of dossier CODE."""
    from .demo import DEMO_ORG
    from .engine import Engine

    try:
        with Engine(_existing_db(db), org=org or DEMO_ORG, entry_points=False) as engine:
            click.echo(engine.control_sheet(code).render())
    except LienthongError as e:
        raise click.ClickException(str(e)) from None


def _attach() -> None:
    from .cli_calendar import calendar

    main.add_command(calendar)
    try:
        from .cli_plugins import plugins
    except ImportError:  # pragma: no cover - the plugins command ships with the package
        return
    main.add_command(plugins)


_attach()
