"""The house: lienthong's own imports have no circle and point down only, modules stay small,
and the old import paths still work (with a warning) until 0.3.

The imports are read with ``ast`` from the source files, module-level and function-level alike;
imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "lienthong"

#: Rooms, bottom first: a module may import its own room and the rooms below it. bpmn and
#: store share a rank but may not import each other (the store keeps a workflow's state as bytes;
#: the BPMN layer knows nothing of the database).
LAYERS: list[tuple[str, ...]] = [
    ("lienthong.errors", "lienthong.status"),
    ("lienthong.plaindata",),
    ("lienthong.org",),
    ("lienthong.legaltime",),
    ("lienthong.config",),
    ("lienthong.bpmn", "lienthong.store"),
    ("lienthong.plugins",),
    ("lienthong.reports",),
    ("lienthong.forms", "lienthong.portal"),
    ("lienthong.engine",),
    ("lienthong.demo", "lienthong.testing", "lienthong.cli"),
]
#: Modules above every room: the package's public face and the aliases of the old paths.
TOP = "lienthong"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """The lienthong modules a module's code imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == TOP:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here if is_package else here.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            if base.split(".")[0] == TOP:
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(here)
    return found


GRAPH = {
    name: _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
    for name, path in MODULES.items()
}


def _room(name: str) -> tuple[int, str] | None:
    for rank, rooms in enumerate(LAYERS):
        for room in rooms:
            if name == room or name.startswith(room + "."):
                return rank, room
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_walk_sees_the_imports() -> None:
    # If the walk found nothing, the tests below could not fail.
    assert "lienthong.store.tables" in GRAPH["lienthong.engine.context"]
    assert "lienthong.reports.sheet" in GRAPH["lienthong.engine.queries"]
    assert len(MODULES) > 40


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    assert _cycles(GRAPH) == []


def _upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a room above the importer's (or between bpmn and store)."""
    upward = []
    for name, targets in graph.items():
        here = _room(name)
        if here is None:
            continue  # the package's face and the old-path aliases sit above every room
        for target in targets:
            there = _room(target)
            if there is None:
                upward.append(f"{name} -> {target} (the package's top)")
            elif there[0] > here[0] or (
                there[0] == here[0] and {here[1], there[1]} == {"lienthong.bpmn", "lienthong.store"}
            ):
                upward.append(f"{name} -> {target}")
    return upward


def test_an_upward_arrow_is_seen() -> None:
    graph = {
        "lienthong.store.tables": {"lienthong.engine.context", "lienthong.bpmn.state"},
        "lienthong.engine.context": {"lienthong.store.tables"},
    }
    assert sorted(_upward(graph)) == [
        "lienthong.store.tables -> lienthong.bpmn.state",
        "lienthong.store.tables -> lienthong.engine.context",
    ]


def test_imports_point_down_only() -> None:
    assert _upward(GRAPH) == []


def test_legal_time_rules_import_nothing_above_them() -> None:
    assert {
        t for t in GRAPH["lienthong.legaltime.rules"] if _room(t) != _room("lienthong.legaltime")
    } <= {
        "lienthong.status",
        "lienthong.errors",
    }


def test_reports_read_the_store_not_the_engine() -> None:
    for name, targets in GRAPH.items():
        if name.startswith("lienthong.reports"):
            assert not any(t.startswith("lienthong.engine") for t in targets), name


def test_every_module_is_in_a_room_or_an_alias() -> None:
    from lienthong._moved import MOVED

    homeless = [
        n
        for n in MODULES
        if _room(n) is None and n not in MOVED and n not in (TOP, "lienthong._moved")
    ]
    assert homeless == []


def test_no_module_over_600_lines() -> None:
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in MODULES.items()}
    assert {n: lines for n, lines in long.items() if lines > 600} == {}


def test_a_class_over_400_lines_says_why() -> None:
    unexplained = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                doc = ast.get_docstring(node) or ""
                if length > 400 and "400 lines" not in doc:
                    unexplained.append(f"{name}.{node.name}: {length} lines")
    assert unexplained == []


def test_every_old_import_path_still_works_and_warns() -> None:
    # A fresh interpreter: this one has imported most modules already, and a module warns once.
    code = """
import importlib, json, warnings
from lienthong._moved import MOVED
problems = {}
for old, new in sorted(MOVED.items()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    missing = [n for n in dir(target) if not n.startswith("_") and not hasattr(module, n)]
    warned = any(
        issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught
    )
    if missing or not warned:
        problems[old] = {"missing": missing, "warned": warned}
print(json.dumps(problems))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=SRC.parent
    )
    assert json.loads(out.stdout) == {}


def test_the_names_users_import_from_old_paths() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from lienthong.calendar import WorkingCalendar
        from lienthong.engine import Engine
        from lienthong.hookspecs import hookimpl
        from lienthong.testing import FixedClock

    import lienthong

    assert WorkingCalendar is lienthong.WorkingCalendar
    assert Engine is lienthong.Engine
    assert hookimpl is lienthong.hookimpl
    assert FixedClock is lienthong.FixedClock
    assert importlib.import_module("lienthong.sla").kpi_classify is not None


def test_the_package_says_its_version() -> None:
    import tomllib

    import lienthong

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert lienthong.__version__ == pyproject["project"]["version"]
