"""Options and checks that several command groups share, and the configuration they read.

The configuration (``lienthong.toml``, :mod:`lienthong.config`) reaches every command through
the options here: ``--db`` is the option given, else ``$LIENTHONG_DB``, else the file's
``database``, else ``lienthong.db``; ``--org`` the option, else the file's ``organisation``, else
the organisation stored in the database. :func:`current_config` is the file of this run (``lienthong
--config FILE``, ``$LIENTHONG_CONFIG``, or ``lienthong.toml`` in the working folder), read once;
:func:`open_engine` builds an Engine from it and the options.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lienthong.config import Config
from lienthong.errors import ConfigError, LienthongError, OrganisationNotStored
from lienthong.store import stores

if TYPE_CHECKING:
    from lienthong.engine import Engine

DEFAULT_DB = "lienthong.db"
_META = "lienthong.config"


def current_config(ctx: click.Context | None = None) -> Config:
    """The configuration of this run, read once per command line (a :class:`ConfigError`, the
    main group's to print, if the file is bad)."""
    ctx = ctx or click.get_current_context(silent=True)
    meta = ctx.find_root().meta if ctx is not None else {}
    found = meta.get(_META)
    if found is None:
        try:
            found = Config.find(meta.get("lienthong.config_file"))
        except ConfigError as e:
            found = e
        meta[_META] = found
    if isinstance(found, ConfigError):
        raise found
    return found


def _db(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    return current_config(ctx).database or DEFAULT_DB


def db_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--db",
        "db",
        default=None,
        callback=_db,
        metavar="FILE",
        help=f"The SQLite file, or a PostgreSQL address postgresql://… (default: $LIENTHONG_DB, "
        f"else lienthong.toml's database, else {DEFAULT_DB}).",
    )(f)


def _org(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        return value
    org = current_config(ctx).get("organisation")
    return str(org) if org is not None else None


def org_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--org",
        "org",
        type=click.Path(dir_okay=False),
        default=None,
        callback=_org,
        help="Organisation TOML file (default: lienthong.toml's organisation, else the one "
        "stored in the database, the organisation the last engine on it ran with).",
    )(f)


def format_option(*choices: str, default: str = "text") -> Callable[[Any], Any]:
    """``--format``: the output's form, ``text`` for people and ``json`` for programs."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="text for people, json for programs.",
    )


def no_stored_org(db: str) -> click.ClickException:
    """The one line for a database that holds no organisation when no ``--org`` was given."""
    return click.ClickException(
        f"{db}: no organisation is stored in this database (it was written before lienthong "
        "kept one): pass --org FILE, the organisation file it ran with, or name it in "
        "lienthong.toml (organisation = ...)"
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


def open_engine(db: str, org: str | None, *, plugins: bool = True, **options: Any) -> Engine:
    """An Engine on the existing database ``db`` as the configuration sets it up (its plugins,
    calendar, scripts, store and services settings), ``org`` (``None``: the stored one) and
    ``options`` over it. ``plugins=False`` loads no entry-point plugin: for commands that only
    read. A database without an organisation, and none given, is the one-line error."""
    from lienthong.engine import Engine

    config = current_config()
    kwargs = config.engine_options(db=existing_db(db), org=org, **options)
    if not plugins:
        kwargs["entry_points"] = False
        kwargs.pop("enabled_plugins", None)
    try:
        return Engine(**kwargs)
    except OrganisationNotStored:
        raise no_stored_org(db) from None


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on standard error, only when it is a terminal (never in a log or a pipe):
    yields ``update(done, total)``."""
    if not sys.stderr.isatty():

        def nothing(done: int, total: int | None = None) -> None:
            pass

        yield nothing
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, completed=done, total=total)
            else:
                bar.update(task, completed=done)

        yield update
