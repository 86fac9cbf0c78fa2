"""``lienthong audit``: the audit log (append-only, hash-chained) and its signed checkpoints
(``keygen``, ``anchor``, ``verify``).

They open the database read-only and never migrate it: checking the evidence must not change it,
and a file that is not a lienthong database is refused in one line instead of being given
lienthong's tables. Errors are one line (``Error: ...``) and a non-zero exit status.

``anchor`` calls the ``audit_checkpoint`` hook through a plugin manager of its own, built as an
Engine builds one (defaults, then the ``lienthong`` entry points limited by
``LIENTHONG_PLUGINS``): the hook needs no organisation, procedures or store, so no Engine (and no
``--org``) is needed to call it.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from lienthong.cli.options import current_config, db_option
from lienthong.errors import LienthongError
from lienthong.legaltime.clock import SystemClock
from lienthong.plugins.manager import HookCaller, make_plugin_manager
from lienthong.store import anchors, digests, stores
from lienthong.store import audit as audit_log

__all__ = ["anchor", "audit", "keygen", "verify"]

_AUDIT_COLUMNS = frozenset(("id", *audit_log.FIELDS, "prev_hash", "hash"))


@contextmanager
def _open_db(path: str) -> Iterator[sqlite_utils.Database]:
    if stores.is_address(path):
        try:
            database = stores.reader(path)
        except LienthongError as e:
            raise click.ClickException(str(e)) from None
        try:
            yield database
        finally:
            database.close()
        return
    p = Path(path)
    if not p.exists():
        raise click.ClickException(f"{path}: no such database file (run 'lienthong demo' first?)")
    if p.is_dir():
        raise click.ClickException(f"{path}: a folder, not a database file")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise click.ClickException(f"{path}: cannot open it ({e})") from None
    try:
        try:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
        except sqlite3.DatabaseError as e:
            raise click.ClickException(f"{path}: not a lienthong database ({e})") from None
        if not columns >= _AUDIT_COLUMNS:
            raise click.ClickException(f"{path}: not a lienthong database (no audit table)")
        try:
            yield sqlite_utils.Database(conn)
        except sqlite3.DatabaseError as e:  # e.g. "database disk image is malformed"
            raise click.ClickException(f"{path}: {e}") from None
    finally:
        conn.close()


@click.group()
def audit() -> None:
    """The audit log (append-only, hash-chained)."""


@audit.command("keygen")
@click.option("--out", "out", required=True, metavar="KEY", type=click.Path(dir_okay=False),
              help="Where to write the private key (PEM, mode 0600); must not exist.")
def keygen(out: str) -> None:
    """Make an Ed25519 signing key for checkpoints; print its public key.

    Keep KEY away from the database: whoever can read it can sign checkpoints. Give the public
    key (the printed hex) to whoever verifies.
    """
    try:
        key = anchors.generate_key(out)
    except LienthongError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote the private key to {out} (mode 0600); the public key:", err=True)
    click.echo(anchors.public_key_hex(key))


@audit.command("anchor")
@db_option
@click.option("--key", "key_file", required=True, metavar="KEY",
              default=lambda: current_config().anchor_key,
              help="The private key file (from 'lienthong audit keygen'); default: "
              "$LIENTHONG_ANCHOR_KEY, else lienthong.toml's [audit] key.")
@click.option("--out", "out", metavar="FILE", type=click.Path(dir_okay=False),
              default=lambda: current_config().get("audit.anchors"),
              help="Append the checkpoint to this anchors file (JSON Lines); default: "
              "lienthong.toml's [audit] anchors, else print it.")
def anchor(db: str, key_file: str, out: str | None) -> None:
    """Verify the audit chain, sign its head and write the checkpoint (one JSON line).

    Then the audit_checkpoint hook is called, so plugins can send the checkpoint to a witness.
    """
    try:
        key = anchors.load_private_key(key_file)
        with _open_db(db) as database:
            # Whole seconds: the instant is for people to read, and the chain orders the rows.
            now = SystemClock().now().replace(microsecond=0)
            checkpoint = anchors.make_checkpoint(database, key, now)
        if out is None:
            click.echo(anchors.checkpoint_line(checkpoint))
        else:
            anchors.append_anchor(out, checkpoint)
            click.echo(
                f"checkpoint appended to {out}: {checkpoint['rows']} rows, head "
                f"{checkpoint['head'][:16]}… (row {checkpoint['last_id']})", err=True)
    except LienthongError as e:
        raise click.ClickException(str(e)) from None
    try:
        publish_checkpoint(checkpoint)
    except LienthongError as e:
        where = out or "standard output"
        raise click.ClickException(f"the checkpoint was written to {where}, but {e}") from None


@audit.command("verify")
@db_option
@click.option("--anchors", "anchors_file", default=None, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="Also check the chain against the checkpoints of this anchors file.")
@click.option("--key", "key", default=None, metavar="PUBKEY|KEYFILE",
              help="Accept only checkpoints signed by this key: 64 hex digits, or a file holding "
              "them, a PEM public key or the private key.")
@click.option("--deep", is_flag=True,
              help="Also check the dossiers and steps tables: each dossier's rows against the "
              "state digest on its last audit row.")
def verify(db: str, anchors_file: str | None, key: str | None, deep: bool) -> None:
    """Check the hash chain; name the first broken row. Exit status 1 if broken.

    With --anchors, also check that the chain still holds every checkpoint: the rows each one
    counted, its last row, that row's hash. Without --key, a checkpoint is checked against the key
    it names, which proves only that some key signed it. With --deep, then check that each
    dossier's row and step rows are those its last audit row vouches for, and name each dossier
    (and step) changed, deleted or inserted since.
    """
    if key is not None and anchors_file is None:
        raise click.ClickException("--key needs --anchors (the checkpoints to check it against)")
    try:
        expected = anchors.load_public_key(key) if key is not None else None
        lines = anchors.read_anchors(anchors_file) if anchors_file is not None else None
    except LienthongError as e:
        raise click.ClickException(str(e)) from None
    if lines == []:
        # An emptied anchors file must not read as "every checkpoint holds".
        raise click.ClickException(f"{anchors_file}: no checkpoints in it")
    with _open_db(db) as database:
        if lines is None:
            result: audit_log.VerifyResult = audit_log.verify(database, deep=deep)
        else:
            result = anchors.verify_with_anchors(database, [c for _, c in lines], expected,
                                                 deep=deep)
    if result.ok or result.state is not None:  # with a state: the chain and checkpoints held
        _report_ok(result, lines, expected)
        _report_state(result.state)
        if not result.ok:
            sys.exit(1)
        return
    where = ""
    if isinstance(result, anchors.AnchoredResult) and result.checkpoint is not None:
        assert lines is not None
        line = lines[result.checkpoint - 1][0]
        where = f"checkpoint on line {line} of {anchors_file}"
        if result.broken_id is None:
            click.echo(f"{where} REJECTED: {result.reason}", err=True)
            sys.exit(1)
        where = f" ({where})"
    click.echo(f"audit chain BROKEN at row {result.broken_id}{where}: {result.reason}", err=True)
    sys.exit(1)


def _report_ok(
    result: audit_log.VerifyResult, lines: list[tuple[int, dict[str, Any]]] | None,
    expected: str | None,
) -> None:
    if lines is None:
        click.echo(f"audit chain intact: {result.rows} rows")
        return
    latest = max((c for _, c in lines), key=lambda c: c["last_id"] or 0)
    keys = sorted({c["public_key"] for _, c in lines})
    held = "1 checkpoint holds" if len(lines) == 1 else f"{len(lines)} checkpoints hold"
    upto = f"up to row {latest['last_id']}" if latest["rows"] else "of the empty log"
    click.echo(
        f"audit chain intact: {result.rows} rows; {held}, the latest {upto} ({latest['at']})"
    )
    if expected is None:
        click.echo(
            f"note: no --key given; signed by {', '.join(k[:16] + '…' for k in keys)}: pass "
            "--key to accept only your key", err=True)


#: Differences --deep prints one a line before it sums up the rest.
_SHOWN = 50


def _report_state(state: digests.StateResult | None) -> None:
    if state is None:
        return
    if state.unchecked:
        click.echo(f"note: {state.unchecked} dossier(s) last written before state digests "
                   "(migration 010): not checked until a command writes to them", err=True)
    if state.ok:
        click.echo(f"tables match: {state.checked} of {state.dossiers} dossiers checked against "
                   "the state digest of their last audit row")
        return
    for problem in state.problems[:_SHOWN]:
        click.echo(str(problem), err=True)
    if len(state.problems) > _SHOWN:
        click.echo(f"... and {len(state.problems) - _SHOWN} more", err=True)
    changed = len({p.dossier for p in state.problems})
    click.echo(f"tables CHANGED: {len(state.problems)} difference(s) in {changed} of "
               f"{state.dossiers} dossiers", err=True)


def publish_checkpoint(checkpoint: Mapping[str, Any], hooks: HookCaller | None = None) -> None:
    """Call the ``audit_checkpoint`` hook, so plugins can send the checkpoint to a witness.

    ``hooks`` defaults to a plugin manager built as an Engine builds one (lienthong's defaults and
    the ``lienthong`` entry points, limited by ``LIENTHONG_PLUGINS``); pass ``engine.hooks`` to
    use an Engine's plugins. A plugin's exception surfaces as a PluginError.
    """
    caller = hooks or HookCaller(make_plugin_manager())
    # A copy: a plugin that changed the dict must not change what the caller writes.
    caller.call("audit_checkpoint", checkpoint=dict(checkpoint))
