"""What this machine charges SQLite for a commit, by the WAL frames (changed pages) it writes:
a file in WAL mode, ``synchronous=NORMAL`` (lienthong's default), transactions that change 1 to
N pages of N small tables, each page a new value (a value written unchanged changes no page).

    .venv/bin/python bench/commit_frames.py [--pages 1,4,8,13,20] [--commits N]

No lienthong code runs: this prices the machine's file system and system calls, which a
handoff pays for each page its commit writes (``bench/handoff_parts.py`` counts them: 102 a
dossier of 7 handoffs). The baseline is the one-page commit, in the same run; the last line is a
JSON object; ``ratio_per_page`` is the cost of one more page over that of a one-page commit.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time


def commit_us(folder: str, pages: int, commits: int) -> float:
    """Mean µs of ``COMMIT`` for transactions that change ``pages`` pages."""
    path = os.path.join(folder, f"p{pages}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for i in range(pages):
        conn.execute(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v BLOB)")
        conn.execute(f"INSERT INTO t{i} VALUES (1, randomblob(100))")
    spent = 0.0
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        for i in range(pages):
            conn.execute(f"UPDATE t{i} SET v = randomblob(100) WHERE id = 1")
        start = time.perf_counter()
        conn.execute("COMMIT")
        spent += time.perf_counter() - start
    conn.close()
    return spent / commits * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", default="1,4,8,13,20")
    ap.add_argument("--commits", type=int, default=2000)
    args = ap.parse_args()
    sizes = sorted({int(p) for p in args.pages.split(",")} | {1})
    with tempfile.TemporaryDirectory() as tmp:
        us = {p: commit_us(tmp, p, args.commits) for p in sizes}
    top = sizes[-1]
    per_page = (us[top] - us[1]) / (top - 1) if top > 1 else 0.0
    for p in sizes:
        print(f"  {p:3d} pages a commit: {us[p]:7.1f} us")
    print(f"  one more page: {per_page:.1f} us (a one-page commit: {us[1]:.1f} us)")
    print(
        json.dumps(
            {
                "commits": args.commits,
                "commit_us": {str(p): round(v, 1) for p, v in us.items()},
                "page_us": round(per_page, 2),
                "ratio_per_page": round(per_page / us[1], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
