"""``lienthong report KIND``: the accountability reports (docs/reports.md) of a database.

The database is opened read-only (as ``dossier show`` and ``audit`` open it): a report changes
nothing, and a file that is not a lienthong database is refused in one line. Bad dates, an
unknown unit or procedure are one line too (``Error: ...``), exit status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lienthong.cli.options import db_option, existing_db, org_option, progress

KINDS = ("officers", "units", "returned", "apologies", "period")
TITLES = {
    "officers": "Kết quả xử lý theo cán bộ (officers)",
    "units": "Kết quả xử lý theo đơn vị (units)",
    "returned": "Hồ sơ bị trả lại yêu cầu bổ sung từ 2 lần (dossiers sent back twice or more)",
    "apologies": "Hồ sơ quá hạn và văn bản xin lỗi (late dossiers and apologies)",
    "period": "Tình hình giải quyết hồ sơ trong kỳ (the period)",
}


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@db_option
@click.option(
    "--from",
    "first",
    default=None,
    metavar="DATE",
    help="First day of the period, YYYY-MM-DD (default: the first stored).",
)
@click.option(
    "--to",
    "last",
    default=None,
    metavar="DATE",
    help="Last day of the period, included (default: the last stored).",
)
@click.option("--unit", default=None, metavar="CODE", help="Only this unit (its code).")
@click.option("--procedure", default=None, metavar="CODE", help="Only this procedure code.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "json", "xlsx", "html")),
    default="table",
    show_default=True,
    help="html: period and units only, a page with charts (docs/reports.md).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file (needed for xlsx) instead of standard output.",
)
@org_option
def report(
    kind: str,
    db: str,
    first: str | None,
    last: str | None,
    unit: str | None,
    procedure: str | None,
    fmt: str,
    out: str | None,
    org: str | None,
) -> None:
    """Print the report KIND: officers, units, returned, apologies or period.

    Without --from/--to the period is everything stored.
    """
    from lienthong import reports
    from lienthong.reports import formats

    if fmt == "xlsx" and out is None:
        raise click.ClickException("--format xlsx writes a file: give it with --out FILE")
    if fmt == "html" and kind not in ("period", "units"):
        raise click.ClickException(f"--format html: only the period and units reports, not {kind}")
    path = existing_db(db)
    # A LienthongError (bad date, unknown unit...) is the main group's to print in one line.
    period = reports.Period.days(first, last)
    names = _names(org)
    database = reports.open_db(path)
    if fmt == "html":
        from lienthong.reports.html import report_page

        try:
            page = report_page(
                database, kind, org=names, period=period, unit=unit, procedure=procedure
            )
        finally:
            database.conn.close()
        _write(page, out)
        return
    try:
        fn: Any = {
            "officers": reports.officers,
            "units": reports.units,
            "returned": reports.returned,
            "apologies": reports.apologies,
            "period": reports.period_report,
        }[kind]
        with progress(f"report {kind}"):  # a spinner, only on a terminal: a year takes seconds
            result = fn(database, org=names, period=period, unit=unit, procedure=procedure)
    finally:
        database.conn.close()
    title = f"{TITLES[kind]} — {period.describe()}"
    if fmt == "xlsx":
        assert out is not None
        try:
            formats.to_xlsx(kind, result, out, title=title)
        except OSError as e:
            raise click.ClickException(f"{out}: {e.strerror or e}") from None
        click.echo(f"Wrote {out}", err=True)
        return
    text = (
        formats.to_table(kind, result, title=title)
        if fmt == "table"
        else formats.WRITERS[fmt](kind, result)
    )
    _write(text, out)


def _write(text: str, out: str | None) -> None:
    """To standard output, or to the file ``out`` (UTF-8)."""
    if out is None:
        click.echo(text.rstrip("\n"))
        return
    try:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"{out}: {e.strerror or e}") from None


def _names(org: str | None) -> Any:
    """The names beside the codes: from ``--org``; else those of the organisations stored in the
    database (each report reads them), or codes alone in a database from before they were."""
    if org is None:
        return None
    from lienthong.org import Organisation

    return Organisation.from_file(org)
