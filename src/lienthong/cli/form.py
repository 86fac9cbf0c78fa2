"""``lienthong form NN CODE``: a form of Circular 03/2025 (Mẫu 01–07) as HTML or PDF.

The database is opened read-only, as ``report`` opens it: printing a form changes nothing. A
form the dossier gives no ground for (Mẫu 03 of a dossier that was not refused...), an unknown
form, dossier or unit, bad dates: one line (``Error: ...``), exit status 1 (docs/forms.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from lienthong.cli.options import db_option, existing_db, org_option


@click.command()
@click.argument("number", metavar="NN")
@click.argument("code", required=False, metavar="[CODE]")
@db_option
@org_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("html", "pdf")),
    default=None,
    help="html or pdf (default: pdf when --out ends in .pdf, else html).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file (needed for pdf); html goes to standard output without it.",
)
@click.option(
    "--from", "first", default=None, metavar="DATE", help="Mẫu 07: first day, YYYY-MM-DD."
)
@click.option("--to", "last", default=None, metavar="DATE", help="Mẫu 07: last day, included.")
@click.option("--unit", default=None, metavar="CODE", help="Mẫu 07: only this receiving unit.")
@click.option(
    "--place",
    default=None,
    metavar="TEXT",
    help="The place name (địa danh) of the date line, e.g. 'Tân Mẫu' (default: dots).",
)
def form(
    number: str,
    code: str | None,
    db: str,
    org: str | None,
    fmt: str | None,
    out: str | None,
    first: str | None,
    last: str | None,
    unit: str | None,
    place: str | None,
) -> None:
    """Write form NN of dossier CODE (Mẫu 01–06), or the tracking book of a period (Mẫu 07,
    with --from and --to instead of CODE), as printable HTML or PDF.

    \b
    01 Giấy tiếp nhận hồ sơ và hẹn trả kết quả
    02 Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (a page per request)
    03 Phiếu từ chối tiếp nhận giải quyết hồ sơ
    04 Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết
    05 Thông báo dừng giải quyết hồ sơ
    06 Phiếu kiểm soát quá trình giải quyết hồ sơ
    07 Sổ theo dõi hồ sơ (--from, --to, --unit)
    """
    from lienthong import forms
    from lienthong.org import Organisation

    spec = forms.spec(number)  # an unknown form is the main group's one line
    book = spec.number == "07"
    if book and code is not None:
        raise click.UsageError(f"{spec.label} is made for a period: give --from and --to, not CODE")
    if not book and code is None:
        raise click.UsageError(f"{spec.label} is made for a dossier: give its CODE")
    if not book and (first or last or unit):
        raise click.UsageError("--from, --to and --unit are for Mẫu 07 (the tracking book)")
    if book and not (first and last):
        raise click.UsageError(f"{spec.label}: give the period with --from DATE and --to DATE")
    fmt = fmt or ("pdf" if out is not None and out.lower().endswith(".pdf") else "html")
    if fmt == "pdf" and out is None:
        raise click.UsageError("--format pdf writes a file: give it with --out FILE")
    path = existing_db(db)
    organisation = Organisation.from_file(org) if org is not None else None
    if book:
        made = forms.book(
            path, forms.Period.days(first, last), unit=unit, org=organisation, place=place
        )
    else:
        assert code is not None
        made = forms.build(path, spec.number, code, org=organisation, place=place)
    html = forms.to_html(made)
    if fmt == "html" and out is None:
        click.echo(html.rstrip("\n"))
        return
    assert out is not None
    data = forms.to_pdf(made, html) if fmt == "pdf" else html.encode("utf-8")
    try:
        Path(out).write_bytes(data)
    except OSError as e:
        raise click.ClickException(f"{out}: {e.strerror or e}") from None
    click.echo(f"Wrote {out}", err=True)
