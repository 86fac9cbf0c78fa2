"""Lint benchmark: ``lienthong lint`` over a province's worth of procedure files.

Run: ``.venv/bin/python bench/lint.py [--files 2000]`` (about a minute). Writes
``--files`` BPMN files into a temporary folder, copies of ``processes/*.bpmn`` varied (procedure
code, process id, names, shares; one file in ten given a JUEL condition and a misspelled key, so
that lint has problems to report), then times, in this order:

1. ``lienthong lint FOLDER --format json`` as a command (a new process, its start-up included);
2. the same lint in this process (:func:`lienthong.bpmn.lint.lint_paths`);
3. ``load_procedure`` on each file (the loader runs the same rules, then builds the procedure);
4. the baseline: SpiffWorkflow's own parser over the same files, with its schema validator
   built once (what loading a file costs less lienthong's rules).

Prints a table, then one JSON line. Machines are shared and noisy: compare the ratio (lint ÷
SpiffWorkflow's parse), not the seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/calendar.py would shadow the
# standard library's `calendar` module, which `holidays` imports. Drop it.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator

from lienthong.bpmn.lint import lint_paths
from lienthong.bpmn.problems import ERROR
from lienthong.bpmn.procedures import load_procedure
from lienthong.errors import ProcedureError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "processes").glob("*.bpmn"))


def generate(folder: Path, n: int, seed: int = 118) -> int:
    """``n`` varied copies of the sample processes; returns how many were given problems."""
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in SAMPLES]
    broken = 0
    for i in range(n):
        text = texts[i % len(texts)]
        code = re.search(r'name="lienthong:procedure-code" value="([^"]+)"', text)
        assert code is not None
        text = text.replace(code.group(0), code.group(0).replace(code.group(1), f"9.{i:06d}"))
        text = re.sub(
            r'name="([^"]{3,})"',
            lambda m, i=i: (
                f'name="{m.group(1)} {i}"'
                if not m.group(1).startswith("lienthong:")
                else m.group(0)
            ),
            text,
        )
        # Shares only ever shrink, so the varied copies still fit their deadlines.
        text = re.sub(
            r'(name="lienthong:share" value=")(\d+)d"',
            lambda m: f'{m.group(1)}{rng.randint(0, int(m.group(2)) * 8)}h"',
            text,
        )
        if i % 10 == 9:
            broken += 1
            text = text.replace('name="lienthong:share"', 'name="lienthong:shares"', 1)
            text = text.replace('name="lienthong:deadline"', 'name="lienthong:dealine"', 1)
        (folder / f"{i:04d}-{SAMPLES[i % len(SAMPLES)].name}").write_text(text, encoding="utf-8")
    return broken


def spiff_parse_all(files: list[Path]) -> float:
    validator = BpmnValidator()
    t0 = time.perf_counter()
    for f in files:
        root = etree.parse(str(f)).getroot()
        pid = root.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}process").get("id")
        parser = BpmnParser(validator=validator)
        parser.add_bpmn_xml(etree.ElementTree(root), filename=str(f))
        parser.get_spec(pid)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broken = generate(folder, args.files)
        files = sorted(folder.glob("*.bpmn"))

        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "lienthong.cli", "lint", str(folder), "--format", "json"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            check=False,
        )
        command = time.perf_counter() - t0
        printed = json.loads(run.stdout)
        assert run.returncode == 1, run.stderr

        t0 = time.perf_counter()
        problems = lint_paths([folder])
        in_process = time.perf_counter() - t0
        assert [p.as_dict() for p in problems] == printed
        bad_files = {p.file for p in problems if p.severity == ERROR}
        assert len(bad_files) == broken, (len(bad_files), broken)

        t0 = time.perf_counter()
        refused = 0
        for f in files:
            try:
                load_procedure(f)
            except ProcedureError:
                refused += 1
        loading = time.perf_counter() - t0
        assert refused == broken

        baseline = spiff_parse_all(files)

    n = len(files)
    print(f"{n} files ({broken} with problems), {len(problems)} problems reported")
    print(f"{'':36}{'seconds':>9}{'files/s':>10}")
    for label, secs in (
        ("lienthong lint FOLDER (command)", command),
        ("lint_paths (in process)", in_process),
        ("load_procedure, file by file", loading),
        ("SpiffWorkflow parse only (baseline)", baseline),
    ):
        print(f"{label:36}{secs:9.1f}{n / secs:10.0f}")
    ratio = in_process / baseline
    print(f"lint ÷ SpiffWorkflow's parse: {ratio:.2f}; load ÷ lint: {loading / in_process:.2f}")
    print(
        json.dumps(
            {
                "files": n,
                "problems": len(problems),
                "command_seconds": round(command, 2),
                "lint_seconds": round(in_process, 2),
                "load_seconds": round(loading, 2),
                "spiff_parse_seconds": round(baseline, 2),
                "ratio_lint_to_spiff_parse": round(ratio, 3),
                "ratio_load_to_lint": round(loading / in_process, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
