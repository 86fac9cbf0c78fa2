"""Options and checks that several command groups share."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click

from lienthong.errors import LienthongError
from lienthong.store import stores

DEFAULT_DB = "lienthong.db"


def db_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--db",
        "db",
        default=lambda: os.environ.get("LIENTHONG_DB", DEFAULT_DB),
        show_default=f"$LIENTHONG_DB or {DEFAULT_DB}",
        help="The SQLite file, or a PostgreSQL address (postgresql://…).",
    )(f)


def org_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--org",
        "org",
        type=click.Path(dir_okay=False),
        default=None,
        help="Organisation TOML file (default: the one stored in the database, the "
        "organisation the last engine on it ran with).",
    )(f)


def no_stored_org(db: str) -> click.ClickException:
    """The one line for a database that holds no organisation when no ``--org`` was given."""
    return click.ClickException(
        f"{db}: no organisation is stored in this database (it was written before lienthong "
        "kept one): pass --org FILE, the organisation file it ran with"
    )


def existing_db(db: str) -> str:
    """``db`` if it is a lienthong database; a one-line error otherwise.

    It is looked at read-only first: an Engine migrates the file it opens, and a command that only
    reads must not give some other file (an empty one, another program's database) lienthong's
    tables.
    """
    if stores.is_address(db):
        try:
            stores.reader(db).close()
        except LienthongError as e:
            raise click.ClickException(str(e)) from None
        return db
    p = Path(db)
    try:
        if not p.exists():
            raise click.ClickException(
                f"{db}: no such database file (run 'lienthong demo' first?)"
            )
        if p.is_dir():
            raise click.ClickException(f"{db}: a folder, not a database file")
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except (OSError, ValueError, sqlite3.Error) as e:  # ValueError: a NUL in the name, say
        raise click.ClickException(f"{db}: cannot open it ({e})") from None
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
        ).fetchone()
    except sqlite3.DatabaseError as e:
        raise click.ClickException(f"{db}: not a lienthong database ({e})") from None
    finally:
        conn.close()
    if found is None:
        raise click.ClickException(f"{db}: not a lienthong database (no lienthong tables)")
    return db
