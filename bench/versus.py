"""Run a benchmark of this checkout and of an earlier commit in the same run, alternately.

    .venv/bin/python bench/versus.py REV [--runs N] [--bench handoffs.py] [--fields F,G]
        [-- BENCH ARGS...]

REV's tree is exported (``git archive``) to a temporary folder; each run starts the benchmark of
that tree with its ``src/`` first on ``PYTHONPATH``, then this checkout's, and so on ``--runs``
times, so that the two share whatever load the machine has. The benchmark's last line must be a
JSON object; its ``ratio_*`` fields are printed for each run, then the median of each side and
the change. ``--fields`` names other numeric fields to compare the same way (a benchmark that
prints no ratio, such as tick.py's ``seconds``: the two sides' runs alternate, so the change of
their medians is the comparison). A benchmark REV does not have is this checkout's, run in REV's
tree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(rev: str, into: Path) -> Path:
    """REV's tree, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into / "tree", filter="data")
    return into / "tree"


def run(tree: Path, bench: str, args: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    script = tree / "bench" / bench
    if not script.exists():  # a benchmark newer than REV: this checkout's, run in REV's tree
        script = ROOT / "bench" / bench
    out = subprocess.run(
        [sys.executable, str(script), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("rev", help="the earlier commit")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bench", default="handoffs.py")
    ap.add_argument("--fields", default="", help="other fields to compare, comma-separated")
    ap.add_argument("bench_args", nargs="*")
    args = ap.parse_args()
    sides: dict[str, list[dict[str, float]]] = {args.rev: [], "this checkout": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {args.rev: export(args.rev, Path(tmp)), "this checkout": ROOT}
        for i in range(args.runs):
            for side, tree in trees.items():
                result = run(tree, args.bench, args.bench_args)
                sides[side].append(result)
                fields = [f for f in args.fields.split(",") if f]
                ratios = {k: v for k, v in result.items() if k.startswith("ratio_") or k in fields}
                print(f"run {i + 1} {side:>14}: {json.dumps(ratios)}", flush=True)
    fields = [f for f in args.fields.split(",") if f]
    keys = [k for k in sides["this checkout"][0] if k.startswith("ratio_") or k in fields]
    print("median of each side:")
    for k in keys:
        before = statistics.median(r[k] for r in sides[args.rev])
        after = statistics.median(r[k] for r in sides["this checkout"])
        print(
            f"  {k:18} {args.rev}: {before:.3f}   this checkout: {after:.3f}   "
            f"({(after / before - 1) * 100:+.1f}%)"
        )


if __name__ == "__main__":
    main()
