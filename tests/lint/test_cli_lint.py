"""``lienthong lint``: bpmnlint's text layout, JSON, exit statuses, ``--org`` and the
configuration file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong.bpmn.problems import RULES
from lienthong.cli import main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
TEN = CORPUS / "ten-problems.bpmn"
DEMO_ORG = ROOT / "src" / "lienthong" / "data" / "demo-org.toml"
LINE = re.compile(r"^  (\d+):(\S+) +(error|warning)  (.+)  ([a-z-]+)$")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.output


def test_text_output_is_bpmnlints_layout_with_the_fix_below() -> None:
    code, out = run(str(TEN))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == str(TEN)
    problems = [LINE.match(line) for line in lines if LINE.match(line)]
    assert len(problems) == 10
    assert [m.group(1) for m in problems] == sorted((m.group(1) for m in problems), key=int)
    assert {m.group(5) for m in problems} <= set(RULES)
    first = next(i for i, line in enumerate(lines) if LINE.match(line))
    assert lines[first + 1].strip().startswith("fix: ")
    # Columns line up within a file, as bpmnlint's do.
    assert len({m.start(3) for m in problems}) == 1
    assert lines[-1] == "✖ 10 problems (9 errors, 1 warning) in 1 of 1 file"
    assert '"Xác minh nội dung" (investigate)' in out


def test_json_is_a_list_of_problems_with_every_key() -> None:
    code, out = run(str(TEN), "--format", "json")
    assert code == 1
    problems = json.loads(out)
    assert len(problems) == 10
    for p in problems:
        assert set(p) == {"file", "line", "element", "name", "type", "severity", "rule",
                          "message", "fix"}
    investigate = [p for p in problems if p["element"] == "investigate"]
    assert [p["rule"] for p in investigate] == ["task-in-lane", "duration"]
    assert investigate[0]["name"] == "Xác minh nội dung"
    assert investigate[0]["type"] == "userTask"
    assert investigate[0]["file"] == str(TEN)


def test_exit_status_zero_for_clean_files_and_for_warnings_only(tmp_path: Path) -> None:
    code, out = run(str(ROOT / "processes"))
    files = len(list((ROOT / "processes").glob("*.bpmn")))
    assert (code, out.strip()) == (0, f"✔ {files} files, no problems")
    # A sample without its diagram: one warning, still exit status 0.
    data = (ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn").read_text(encoding="utf-8")
    cut = data[: data.index("<bpmndi:BPMNDiagram")] + "</bpmn:definitions>\n"
    (tmp_path / "no-diagram.bpmn").write_text(cut, encoding="utf-8")
    code, out = run(str(tmp_path / "no-diagram.bpmn"))
    assert code == 0
    assert "warning" in out and "no-bpmndi" in out
    assert out.splitlines()[-1] == "✖ 1 problem (0 errors, 1 warning) in 1 of 1 file"


def test_folders_are_searched_below_and_files_go_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    shutil.copy(TEN, tmp_path / "b" / "deep" / "z.bpmn")
    shutil.copy(CORPUS / "not-bpmn.bpmn", tmp_path / "a.bpmn")
    (tmp_path / "notes.txt").write_text("not a BPMN file", encoding="utf-8")
    code, out = run(str(tmp_path), "--format", "json")
    files = list(dict.fromkeys(p["file"] for p in json.loads(out)))
    assert files == [str(tmp_path / "a.bpmn"), str(tmp_path / "b" / "deep" / "z.bpmn")]
    assert code == 1


def test_an_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    big = tmp_path / "big.bpmn"
    big.write_bytes(b"<x/>" + b" " * (5 * 1024 * 1024))
    code, out = run(str(big), "--format", "json")
    [p] = json.loads(out)
    assert (code, p["rule"], p["line"]) == (1, "file-read", 0)
    assert "more than the limit" in p["message"]


def test_org_reports_lanes_no_unit_holds(tmp_path: Path) -> None:
    path = str(CORPUS / "camunda-modeler-5.bpmn")
    _, without = run(path, "--format", "json")
    code, out = run(path, "--org", str(DEMO_ORG), "--format", "json")
    added = [p for p in json.loads(out) if p not in json.loads(without)]
    assert code == 1
    assert [(p["rule"], p["element"], p["name"]) for p in added] == [
        ("lane-role", "Lane_1vpdkdd", "Bộ phận Một cửa")
    ]
    (tmp_path / "bad-org.toml").write_text("[[unit]]\ncode = 1\n", encoding="utf-8")
    code, out = run(path, "--org", str(tmp_path / "bad-org.toml"))
    assert code == 2 and "bad-org.toml" in out


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nowhere.bpmn"))
    assert code == 2 and "nowhere.bpmn" in out
    assert run()[0] == 2


# -- the configuration -----------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder, the working folder, with the ten-problem file in it."""
    shutil.copy(TEN, tmp_path / "ten.bpmn")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rules_of(out: str) -> list[str]:
    return [p["rule"] for p in json.loads(out)]


def test_the_working_folders_config_turns_a_warning_off(project: Path) -> None:
    assert "no-bpmndi" in rules_of(run("ten.bpmn", "--format", "json")[1])
    (project / "lienthong-lint.toml").write_text('[rules]\nno-bpmndi = "off"\n', encoding="utf-8")
    code, out = run("ten.bpmn", "--format", "json")
    assert "no-bpmndi" not in rules_of(out) and len(rules_of(out)) == 9
    assert code == 1


def test_a_warning_made_an_error_fails_the_run(project: Path) -> None:
    data = (ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn").read_text(encoding="utf-8")
    cut = data[: data.index("<bpmndi:BPMNDiagram")] + "</bpmn:definitions>\n"
    (project / "plain.bpmn").write_text(cut, encoding="utf-8")
    assert run("plain.bpmn")[0] == 0
    (project / "lienthong.toml").write_text(
        '[engine]\ndb = "x.db"\n\n[lint]\nrules = { no-bpmndi = "error" }\n', encoding="utf-8"
    )
    code, out = run("plain.bpmn", "--format", "json")
    assert code == 1
    assert [p["severity"] for p in json.loads(out)] == ["error"]


def test_config_given_with_config_wins_over_the_working_folders(project: Path) -> None:
    (project / "lienthong-lint.toml").write_text('[rules]\nno-bpmndi = "error"\n', encoding="utf-8")
    (project / "ci.toml").write_text('[lint.rules]\nno-bpmndi = "off"\n', encoding="utf-8")
    code, out = run("ten.bpmn", "--config", "ci.toml", "--format", "json")
    assert "no-bpmndi" not in rules_of(out) and code == 1
    assert run("ten.bpmn", "--config", "missing.toml")[0] == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[rules]\nfake-joins = "off"\n', ["unknown lint rule 'fake-joins'",
                                           "did you mean 'fake-join'?"]),
        ('[rules]\nfake-join = "warning"\n', ["'warning' is not off, warn or error",
                                              "did you mean 'warn'?"]),
        ('[rules]\nduration = "off"\n', ["rule 'duration' cannot be set to 'off'",
                                         "the engine refuses a file with this problem"]),
        ('[rules]\ncondition-juel = "warn"\n', ["rule 'condition-juel' cannot be set to 'warn'"]),
        ('[lint]\nrule = { fake-join = "off" }\n', ["unknown lint setting 'rule'",
                                                    "did you mean 'rules'?"]),
        ("[rules\n", ["not valid TOML"]),
    ],
)
def test_a_bad_config_is_refused_with_a_usage_error(
    project: Path, text: str, words: list[str]
) -> None:
    (project / "lienthong-lint.toml").write_text(text, encoding="utf-8")
    code, out = run("ten.bpmn")
    assert code == 2
    for word in words:
        assert word in out
    assert "lienthong-lint.toml" in out


def test_an_error_rule_set_to_error_is_accepted(project: Path) -> None:
    (project / "lienthong-lint.toml").write_text('[rules]\nduration = "error"\n', encoding="utf-8")
    assert run("ten.bpmn")[0] == 1
