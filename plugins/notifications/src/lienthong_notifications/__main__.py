"""``python -m lienthong_notifications DB FOLDER``: deliver the outbox of a lienthong database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import DEFAULT_SENDER, deliver


def main(argv: Sequence[str] | None = None) -> int:
    """Write the undelivered messages of DB as .eml files into FOLDER; print one line each."""
    parser = argparse.ArgumentParser(
        prog="python -m lienthong_notifications",
        description="Deliver undelivered outbox messages as .eml files (UTF-8).",
    )
    parser.add_argument("db", help="the lienthong SQLite file")
    parser.add_argument("folder", help="where to write the .eml files")
    parser.add_argument("--sender", default=DEFAULT_SENDER, help="From: header")
    args = parser.parse_args(argv)
    for path in deliver(args.db, args.folder, sender=args.sender):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
