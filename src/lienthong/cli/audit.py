"""``lienthong audit``: the audit log (append-only, hash-chained)."""

from __future__ import annotations

import sys

import click

from lienthong.cli.options import db_option, existing_db


@click.group()
def audit() -> None:
    """The audit log (append-only, hash-chained)."""


@audit.command("verify")
@db_option
def audit_verify(db: str) -> None:
    """Check the hash chain; name the first broken row. Exit status 1 if broken."""
    from lienthong.store import Store
    from lienthong.store.audit import verify

    store = Store(existing_db(db))
    try:
        result = verify(store.db)
    finally:
        store.close()
    if result.ok:
        click.echo(f"audit chain intact: {result.rows} rows")
        return
    click.echo(f"audit chain BROKEN at row {result.broken_id}: {result.reason}", err=True)
    sys.exit(1)
