"""``lienthong procedure show FILE|CODE``: the steps in flow order and every path against the
deadline, with the list of paths bounded however many there are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lienthong import Engine
from lienthong.bpmn import load_procedure
from lienthong.bpmn.shares import count_paths, first_paths, heaviest_path
from lienthong.bpmn.summary import summarise
from lienthong.bpmn.table_input import read_table
from lienthong.bpmn.tables import table_bpmn
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from support import KHAI_SINH, PROCESSES, FakeAgencies

TACH_THUA = PROCESSES / "tach-hop-thua-dat.bpmn"


def show(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["procedure", "show", *map(str, args)])
    return result.exit_code, result.output


def test_a_file_shows_its_steps_in_flow_order_and_its_paths() -> None:
    code, out = show(KHAI_SINH)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("233448  Liên thông đăng ký khai sinh")
    start = next(i for i, line in enumerate(lines) if line.startswith("Steps, in flow order"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Paths from"))
    steps = [x.split(". ", 1)[1] for x in lines[start:end] if x[:5].strip().rstrip(".").isdigit()]
    assert steps[:4] == [
        "Tiếp nhận hồ sơ", "Đăng ký khai sinh", "Chuyển hồ sơ điện tử", "Đăng ký thường trú",
    ]  # fmt: skip
    assert "script task · processing · share 0" in out
    assert steps[-1] == "Trả kết quả"
    assert "user task · processing · share 1d · lane UBND cấp xã – công chức hộ tịch" in out
    assert "(police-residence, coordinating) · operation police.record_residence" in out
    assert "required fields: birth_certificate_no" in out
    assert "Paths from the start to an end (2), each against the deadline 3d" in out
    assert out.count("3d of 3d: fits, 0 left") == 2 and out.count("<- heaviest") == 1


def test_json_is_one_object_with_steps_and_paths() -> None:
    code, out = show(TACH_THUA, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["code"] == "DTP-QD138-D16" and doc["deadline_minutes"] == 12 * 480
    assert [s["id"] for s in doc["steps"]] == [
        "reception", "check_conditions", "confirm_and_issue", "refuse", "return_result",
    ]  # fmt: skip
    assert doc["steps"][1]["required_fields"] == ["eligible"]
    paths = doc["paths"]
    assert paths["count"] == 2 and paths["more"] == 0
    by_choice = {tuple(p["choices"]): p for p in paths["shown"]}
    assert by_choice[("Đủ điều kiện",)]["total"] == "12d"
    assert by_choice[("Đủ điều kiện",)]["heaviest"] and by_choice[("Đủ điều kiện",)]["fits"]
    assert by_choice[("Không đủ điều kiện",)]["total"] == "3d4h"


def test_a_code_is_read_from_the_database(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    engine = Engine(db, org=DEMO_ORG, plugins=[FakeAgencies()], entry_points=False)
    engine.load_procedure(TACH_THUA)
    engine.close()
    code, out = show("DTP-QD138-D16", "--db", db)
    assert code == 0, out
    assert out.startswith("DTP-QD138-D16  Tách thửa hoặc hợp thửa đất")
    code, out = show("9.999999", "--db", db)
    assert code == 1 and "unknown procedure '9.999999'" in out and len(out.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nothing-here.bpmn"], "no such BPMN file"),
        (["233448", "--db", "missing.db"], "no such database file"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    code, out = show(*[str(tmp_path / a) if "." in a else a for a in args])
    assert code == 1 and words in out and len(out.splitlines()) == 1


def test_a_file_lint_refuses_is_one_line_pointing_at_lint() -> None:
    ten = Path(__file__).parent / "lint" / "corpus" / "ten-problems.bpmn"
    code, out = show(ten)
    assert code == 1 and len(out.splitlines()) == 1
    assert "problems refuse the file; 'lienthong lint" in out


def _many_choices(tmp_path: Path, groups: int) -> Path:
    """A table of ``groups`` choice groups of two branches in a row: 2**groups paths; in the
    first group the second branch is the heavier, so the heaviest path comes after half of
    them in flow order."""
    rows = ["no,name,role,time,choice,condition,fields", "0,Tiếp nhận,one-stop-desk,0,,,n"]
    for g in range(groups):
        heavy = "2 giờ" if g == 0 else "1 giờ"
        rows.append(f"{g}a,Việc {g}a,land-registration-office,1 giờ,C{g},,")
        rows.append(f"{g}b,Việc {g}b,tax-office,{heavy},C{g},n == {g},")
    src = tmp_path / "many.csv"
    src.write_text("code,M.1\nname,Nhiều nhánh\ndeadline,20d\n\n" + "\n".join(rows) + "\n")
    out = tmp_path / "many.bpmn"
    out.write_bytes(table_bpmn(read_table(src)).bpmn)
    return out


def test_many_paths_are_counted_and_only_the_first_listed(tmp_path: Path) -> None:
    bpmn = _many_choices(tmp_path, 16)  # 65,536 paths
    code, out = show(bpmn, "--format", "json")
    doc = json.loads(out)
    paths = doc["paths"]
    assert paths["count"] == 2**16
    # The first 20 in flow order (the default branches first), then the heaviest.
    assert [p["number"] for p in paths["shown"]] == [*range(1, 21), None]
    assert paths["shown"][-1]["heaviest"] and paths["shown"][-1]["total"] == "2d1h"
    assert paths["more"] == 2**16 - 21
    code, text = show(bpmn, "--paths", "5")
    assert code == 0
    assert f"... and {2**16 - 6} more paths, not listed" in text
    assert "heaviest, further on: 2d1h of 20d: fits, 17d7h left   <- heaviest" in text


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(2, 9))
    graph: dict[str, list[str]] = {}
    for i in range(n - 1):
        later = [f"n{j}" for j in range(i + 1, n)]
        succ = draw(st.lists(st.sampled_from(later), min_size=1, max_size=3, unique=True))
        graph[f"n{i}"] = succ
    return graph


def _all_paths(graph: dict[str, list[str]], node: str) -> list[list[str]]:
    succ = graph.get(node, [])
    if not succ:
        return [[node]]
    return [[node, *rest] for n in succ for rest in _all_paths(graph, n)]


@given(
    dags(),
    st.integers(0, 30),
    st.dictionaries(st.sampled_from([f"n{i}" for i in range(9)]), st.integers(0, 9)),
)
def test_counting_and_listing_agree_with_walking_every_path(graph, limit, weight) -> None:
    every = _all_paths(graph, "n0")
    assert count_paths(graph, ["n0"]) == len(every)
    assert first_paths(graph, ["n0"], limit) == every[:limit]
    total, path = heaviest_path(graph, ["n0"], weight)
    assert total == max(sum(weight.get(x, 0) for x in p) for p in every)
    assert path in every


def test_a_loop_counts_once() -> None:
    # start -> a -> b -> (back to a | end): one path, as the share check sees it.
    graph = {"start": ["a"], "a": ["b"], "b": ["a", "end"]}
    assert count_paths(graph, ["start"]) == 1
    assert first_paths(graph, ["start"], 5) == [["start", "a", "b", "end"]]


def test_the_summary_of_every_sample_lists_each_step_once() -> None:
    for path in sorted(PROCESSES.glob("*.bpmn")):
        proc = load_procedure(path)
        summary = summarise(proc)
        assert sorted(s.id for s in summary.steps) == sorted(proc.steps), path.name
        heaviest = [p for p in summary.paths if p.heaviest]
        assert len(heaviest) == 1 and heaviest[0].total_minutes <= proc.deadline_minutes
        for p in summary.paths:
            # Along a path a step comes after the ones before it in the list of steps.
            order = [s.id for s in summary.steps]
            assert [order.index(s) for s in p.steps] == sorted(order.index(s) for s in p.steps)
        assert len(summary.paths) == summary.path_count


def test_the_designers_page_shows_what_the_command_prints(monkeypatch) -> None:
    root = PROCESSES.parent
    page = (root / "docs" / "designers.md").read_text(encoding="utf-8")
    command = "$ lienthong procedure show processes/tach-hop-thua-dat.bpmn\n"
    shown = page.split(command, 1)[1].split("```", 1)[0]
    monkeypatch.chdir(root)
    code, out = show("processes/tach-hop-thua-dat.bpmn")
    assert code == 0
    assert out == shown, "docs/designers.md: run the command again and paste its output"
