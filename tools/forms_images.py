"""The pictures of docs/forms.md (``make forms-images``): every form of Circular 03/2025 of the
demo's province, as the first page of its PDF at 60 dpi, in ``docs/images/forms/``.

One dossier of the demo (seed 7) went through two supplement requests and an apology: Mẫu 01,
02, 04 and 06 are its own. The demo refuses a few dossiers at reception (Mẫu 03: the first of
them) and stops none: on a copy of its database, the desk's head stops one dossier still in
progress at the demo's last instant (Mẫu 05). Mẫu 07 is the desk's book of one week.

Run from the checkout: ``python tools/forms_images.py --db /tmp/x.db --out docs/images/forms``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lienthong import Engine, FixedClock, Status, forms
from lienthong.demo import run_demo

PLACE = "Tỉnh Mẫu"
BOOK = ("2026-02-23", "2026-02-27")
STOP_REASON = "Cơ quan có thẩm quyền đề nghị dừng để xác minh nguồn gốc giấy tờ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the demo database to write (replaced)")
    parser.add_argument("--out", required=True, help="the folder of the pictures")
    args = parser.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm (poppler-utils) is needed to draw the pages", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = run_demo(args.db, out=lambda _line: None)
    engine = result.engine
    dossiers = engine.dossiers()
    full = next(d for d in dossiers if d.supplements and d.apology_issued_at is not None)
    refused = next(d for d in dossiers if d.status == Status.REFUSED)
    running = next(d for d in dossiers if d.status == Status.PROCESSING)
    engine.close()
    # The stop goes on a copy: the demo's database stays what `lienthong demo` writes.
    copy = Path(args.db).with_suffix(".stopped.db")
    shutil.copyfile(args.db, copy)
    with Engine(str(copy), clock=FixedClock(result.end), entry_points=False) as stopping:
        head = stopping.org.unit(running.receiving_unit).head
        stopping.withdraw(running.code, reason=STOP_REASON, officer=head, by_agency=True)
    made = {
        "01": forms.build(args.db, "01", full.code, place=PLACE),
        "02": forms.build(args.db, "02", full.code, place=PLACE),
        "03": forms.build(args.db, "03", refused.code, place=PLACE),
        "04": forms.build(args.db, "04", full.code, place=PLACE),
        "05": forms.build(copy, "05", running.code, place=PLACE),
        "06": forms.build(args.db, "06", full.code, place=PLACE),
        "07": forms.book(
            args.db,
            forms.Period.days(*BOOK),
            unit=full.receiving_unit,
            place=PLACE,
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for number, form in made.items():
            pdf = Path(tmp) / f"mau-{number}.pdf"
            pdf.write_bytes(forms.to_pdf(form))
            target = out / f"mau-{number}"
            subprocess.run(
                ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, target],
                check=True,
            )
            print(f"{target}.png  {form.spec.label}  {form.dossier or ' – '.join(BOOK)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
