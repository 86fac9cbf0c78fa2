"""Options and checks that several command groups share."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_DB = "lienthong.db"


def db_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--db",
        "db",
        default=lambda: os.environ.get("LIENTHONG_DB", DEFAULT_DB),
        show_default=f"$LIENTHONG_DB or {DEFAULT_DB}",
        help="The SQLite file.",
    )(f)


def org_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--org",
        "org",
        type=click.Path(dir_okay=False),
        default=None,
        help="Organisation TOML file (default: the demo organisation).",
    )(f)


def existing_db(db: str) -> str:
    if not Path(db).exists():
        raise click.ClickException(f"{db}: no such database file (run 'lienthong demo' first?)")
    return db
