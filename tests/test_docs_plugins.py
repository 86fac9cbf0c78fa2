"""docs/plugins.md cannot drift from src/lienthong/plugins/hookspecs.py, and its examples run.

* every hook spec has a ``### name`` section and every ``### name`` section is a hook spec;
* the section sits under the lifecycle heading (``## Loading`` ...) of its banner in hookspecs.py;
* its signature block (```python ``def name(arg, ...)``) lists the spec's arguments, in order;
* every ```python block whose first line is ``# runnable`` runs, after the ``# runnable: setup``
  block, from the repository's root;
* the guide's example plugin (docs/plugin-guide.md, blocks starting with ``# file: PATH``) passes
  its own tests.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lienthong.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
GUIDE = ROOT / "docs" / "plugin-guide.md"
SETUP = "# runnable: setup"
RUNNABLE = "# runnable"
FENCE = re.compile(r"^```(\w*)\s*$")
SIGNATURE = re.compile(r"^def (\w+)\(([^)]*)\)$")


@dataclass
class Block:
    lang: str
    line: int  # of the first line of code, 1-based
    code: str
    section: str | None  # the ### heading above it
    group: str | None  # the ## heading above it


def blocks(path: Path) -> list[Block]:
    out: list[Block] = []
    group = section = None
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if line.startswith("## "):
            group, section = line[3:].strip(), None
        elif line.startswith("### "):
            section = line[4:].strip().strip("`")
        elif fence:
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            out.append(Block(fence.group(1), start + 1, "\n".join(lines[start:i]), section, group))
        i += 1
    return out


def specs() -> dict[str, object]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "lienthong_spec")}


def spec_groups() -> dict[str, str]:
    """Hook name -> the first word of the banner it is under in hookspecs.py."""
    source = inspect.getsource(hookspecs).splitlines()
    out, group = {}, None
    for prev, line in zip(["", *source], source, strict=False):
        if prev.startswith("# ----") and line.startswith("# ") and not line.startswith("# --"):
            group = line[2:].split(":")[0].split()[0]
        m = re.match(r"def (\w+)\(", line)
        if m and m.group(1) in specs():
            out[m.group(1)] = group
    return out


def sections() -> dict[str, list[Block]]:
    out: dict[str, list[Block]] = {}
    for b in blocks(DOC):
        if b.section is not None:
            out.setdefault(b.section, []).append(b)
    return out


def headings() -> list[str]:
    return [line[4:].strip().strip("`") for line in DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith("### ")]


def test_every_hook_is_documented_and_nothing_else():
    documented, known = set(headings()), set(specs())
    problems = []
    if known - documented:
        problems.append(f"hooks missing from docs/plugins.md: {sorted(known - documented)}")
    if documented - known:
        problems.append(
            f"docs/plugins.md documents hooks that do not exist: {sorted(documented - known)}")
    assert not problems, "; ".join(problems)
    assert len(headings()) == len(documented), "a hook is documented twice"


@pytest.mark.parametrize("name", sorted(specs()))
def test_documented_signature_matches_the_spec(name):
    section = sections().get(name)
    assert section, f"docs/plugins.md: no ### {name} section with a code block"
    found = [SIGNATURE.match(b.code.strip()) for b in section if b.lang == "python"]
    sigs = [m for m in found if m]
    assert sigs, f"docs/plugins.md ### {name}: no ```python block with 'def {name}(...)'"
    m = sigs[0]
    assert m.group(1) == name, f"### {name}: the signature block defines {m.group(1)!r}"
    documented = [a.strip() for a in m.group(2).split(",") if a.strip()]
    expected = list(inspect.signature(specs()[name]).parameters)
    assert documented == expected, (
        f"docs/plugins.md ### {name}: documented arguments {documented}, the spec has {expected}")


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_is_under_its_lifecycle_heading(name):
    blocks_ = sections().get(name) or []
    assert blocks_, f"docs/plugins.md: no ### {name} section"
    heading = (blocks_[0].group or "").split()[0] if blocks_[0].group else None
    assert heading == spec_groups()[name], (
        f"docs/plugins.md ### {name} is under '## {blocks_[0].group}', hookspecs.py puts it "
        f"under '{spec_groups()[name]}'")


@pytest.mark.parametrize("name", sorted(specs()))
def test_every_hook_has_a_runnable_example(name):
    assert any(b.code.startswith(RUNNABLE + "\n") for b in sections().get(name, [])), (
        f"docs/plugins.md ### {name}: no ```python block starting with '{RUNNABLE}'")


def runnable() -> list[Block]:
    return [b for b in blocks(DOC) if b.lang == "python" and b.code.startswith(RUNNABLE + "\n")]


def _exec(block: Block, namespace: dict[str, object]) -> None:
    # Padding keeps the line numbers of tracebacks those of docs/plugins.md.
    code = compile("\n" * (block.line - 1) + block.code, str(DOC), "exec")
    exec(code, namespace)


@pytest.mark.parametrize("block", runnable(), ids=lambda b: f"{b.section}-line{b.line}")
def test_example_runs(block, monkeypatch):
    setup = [b for b in blocks(DOC) if b.code.startswith(SETUP + "\n")]
    assert len(setup) == 1, f"docs/plugins.md needs exactly one '{SETUP}' block"
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("LIENTHONG_PLUGINS", raising=False)
    monkeypatch.delenv("LIENTHONG_TRACE_HOOKS", raising=False)
    namespace: dict[str, object] = {"__name__": "docs_plugins_example"}
    _exec(setup[0], namespace)
    _exec(block, namespace)


FILE_MARK = re.compile(r"^(?:#|<!--) file: (\S+)(?: -->)?$")


def test_the_guides_plugin_passes_its_tests(tmp_path):
    files = [b for b in blocks(GUIDE) if FILE_MARK.match(b.code.partition("\n")[0])]
    assert files, "docs/plugin-guide.md has no '# file: PATH' blocks"
    for b in files:
        first, _, rest = b.code.partition("\n")
        path = tmp_path / FILE_MARK.match(first).group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rest + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    env.pop("LIENTHONG_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
