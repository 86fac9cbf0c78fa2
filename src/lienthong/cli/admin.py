"""Setting a deployment up and keeping its database: ``lienthong init``, ``lienthong org check``,
``lienthong db upgrade``, ``lienthong db copy`` and ``lienthong backup`` (docs/deploy.md)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import click

from lienthong.cli.options import current_config, db_option, format_option, org_option, progress
from lienthong.config import FILE, TEMPLATE
from lienthong.errors import OrganisationNotStored
from lienthong.store import stores

__all__ = ["backup", "db", "init", "org"]


@click.command()
@click.option(
    "--examples",
    is_flag=True,
    help="Also write organisation.toml (the demo's organisation, to replace with yours) and "
    "procedures/ (the sample procedures that need no agency plugin), and name them in the file.",
)
@click.pass_context
def init(ctx: click.Context, examples: bool) -> None:
    """Write a commented lienthong.toml, every setting at its default, in the working folder (or
    where lienthong --config FILE says). Refuses to overwrite a file."""
    from lienthong.bpmn.procedures import load_procedure
    from lienthong.demo import DEMO_ORG, PROCESSES

    target = Path(ctx.find_root().meta.get("lienthong.config_file") or FILE)
    written = [target]
    if examples:
        org_file, folder = target.parent / "organisation.toml", target.parent / "procedures"
        written += [org_file, folder]
    for p in written:
        if p.exists():
            raise click.ClickException(f"{p}: exists already; init overwrites nothing")
    text = TEMPLATE
    if examples:
        for line in ('organisation = "organisation.toml"', 'procedures = "procedures"'):
            text = text.replace(f"# {line}", line)
    try:
        target.write_text(text, encoding="utf-8")
        if examples:
            shutil.copyfile(DEMO_ORG, org_file)
            folder.mkdir()
            for f in sorted(PROCESSES.glob("*.bpmn")):
                if not load_procedure(f).operations:
                    shutil.copyfile(f, folder / f.name)
    except OSError as e:
        raise click.ClickException(f"{target}: {e.strerror or e}") from None
    for p in written:
        click.echo(f"wrote {p}{'/' if p.is_dir() else ''}")


@click.group()
def org() -> None:
    """The organisation file (tổ chức: đơn vị, cán bộ)."""


@org.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@format_option("text", "json")
def org_check(file: str, fmt: str) -> None:
    """Check an organisation file as an Engine loads it: its keys (a misspelt one is refused
    with the nearest known key), parents, heads, deputies and delegations; print what it
    holds. Exit status 1 and one line when it is refused."""
    from lienthong.org import Organisation

    o = Organisation.from_file(file)  # an OrganisationError is the main group's one line
    roles = sorted({r for u in o.units.values() for r in u.roles})
    summary = {
        "file": file,
        "version": o.version,
        "units": len(o.units),
        "officers": len(o.officers),
        "delegations": len(o.delegations),
        "roles": roles,
    }
    if fmt == "json":
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{file}: {len(o.units)} units, {len(o.officers)} officers, {len(o.delegations)} "
        f"delegations; version {o.version[:12]}"
    )
    click.echo(f"  roles: {', '.join(roles) or '-'}")


@click.command()
@click.option("--out", "out", required=True, metavar="FILE",
              help="The backup file to write (refused if it exists).")
@db_option
def backup(out: str, db: str) -> None:
    """Copy the database with SQLite's online backup: consistent (as it stood at one instant)
    while officers, ticks and workers go on writing; checked before it takes its name."""
    from lienthong.cli.options import existing_db
    from lienthong.store.backup import backup as copy

    if stores.is_address(db):
        raise click.ClickException(
            f"{stores.hide_password(db)}: a PostgreSQL store is backed up with pg_dump "
            "--format=custom and restored with pg_restore (docs/deploy.md); backup copies a "
            "SQLite file"
        )
    source = existing_db(db)
    with progress("backup") as update:
        pages = copy(source, out, progress=update)
    size = Path(out).stat().st_size
    click.echo(f"backed up {source} to {out}: {pages} pages, {size} bytes")


@click.group()
def db() -> None:
    """The database file (cơ sở dữ liệu)."""


@db.command("upgrade")
@db_option
@org_option
@click.option("--backup", "backup_to", default=None, metavar="FILE",
              help="Where to back the file up before migrating it (default: beside it, named "
              "after the instant).")  # fmt: skip
@click.option("--procedures", "folder", default=None, type=click.Path(file_okay=False),
              help="Folder of BPMN files to load (default: lienthong.toml's procedures).")
def db_upgrade(db: str, org: str | None, backup_to: str | None, folder: str | None) -> None:
    """Bring the database up to this lienthong and this deployment: back it up, apply the
    migrations it lacks, store the organisation (--org or lienthong.toml's) and load the
    procedures folder (new versions become current; running dossiers keep theirs). Creates the
    database when there is none."""
    from lienthong.engine import Engine
    from lienthong.store.backup import backup as copy
    from lienthong.store.backup import pending_migrations

    config = current_config()
    pending = pending_migrations(db)
    address = stores.is_address(db)
    existed = stores.exists(db) if address else Path(db).exists()
    shown = stores.hide_password(db)  # an address may carry its password
    if not existed and org is None:
        raise click.ClickException(
            f"{shown}: a new database needs its organisation: give --org FILE or organisation "
            "= ... in lienthong.toml"
        )
    if pending and existed and address:
        click.echo(f"{shown}: PostgreSQL: no backup taken here (take one with pg_dump first)")
    elif pending and existed:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        target = backup_to or str(Path(db).with_name(f"{Path(db).stem}-before-upgrade-{stamp}.db"))
        with progress("backup") as update:
            copy(db, target, progress=update)
        click.echo(f"backed up {db} to {target}")
    try:
        engine = Engine(**config.engine_options(db=db, org=org))
    except OrganisationNotStored:
        raise click.ClickException(
            f"{shown}: no organisation to run with: give --org FILE or organisation = ... in "
            "lienthong.toml"
        ) from None
    with engine:
        click.echo(
            f"{'created' if not existed else 'upgraded'} {shown}: "
            + (f"applied {', '.join(pending)}" if pending else "no migration to apply")
        )
        click.echo(
            f"organisation {engine.org.version[:12]}: {len(engine.org.units)} units, "
            f"{len(engine.org.officers)} officers"
        )
        folder = folder or config.get("procedures")
        if folder:
            before = {p.code: p.version for p in engine.procedures()}
            loaded = engine.load_procedures(folder)
            new = sum(1 for p in loaded if before.get(p.code) != p.version)
            click.echo(f"procedures: {len(loaded)} loaded from {folder}, {new} new or changed")


@db.command("copy")
@click.option("--from", "source", required=True, metavar="DB",
              help="The store to copy: a SQLite file or a postgresql:// address (read "
              "only).")  # fmt: skip
@click.option("--to", "target", required=True, metavar="DB",
              help="The new store: a SQLite file that does not exist yet, or a postgresql:// "
              "address whose schema holds no lienthong data.")  # fmt: skip
def db_copy(source: str, target: str) -> None:
    """Copy a whole store into a new one, SQLite to PostgreSQL (one server to several) or
    back: every table row for row, the plugins' too, in one transaction that is checked before
    it commits (the rows, the audit chain deep, the head) and leaves nothing if it fails. Stop
    the engines writing to the source first: what they commit later is not in the copy."""
    from lienthong.store.copy import copy_store

    with progress("copy") as update:
        report = copy_store(source, target, progress=update)
    click.echo(f"copied {report.source} to {report.target}: {report.rows} rows")
    for t in report.tables:
        click.echo(f"  {t.table:24s} {t.rows:>10}" + ("  (table made)" if t.made else ""))
    click.echo(
        f"checked: the audit chain's {report.audit_rows} rows verify, ending at "
        f"{report.head[:16]}…; {report.dossiers_checked} dossiers' rows match their last audit "
        "row"
    )
