"""The corpus of broken files: lint reports exactly the problems each file expects, on the right
line, element and name, in document order, and never a traceback.

Each file in ``corpus/`` says what it expects in comments on the line of the problem:
``<!-- expect: RULE ELEMENT "NAME" -->`` (``-`` for no element, ``@N`` for another line,
``expect[org]`` for a problem found only with the demo organisation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lienthong.bpmn.lint import lint_file
from lienthong.bpmn.problems import RULES
from lienthong.testing import demo_organisation

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.bpmn"))
EXPECT = re.compile(r'<!-- expect(\[org\])?: (\S+) (\S+) "([^"]*)"(?: @(\d+))? -->')


def expected(path: Path, *, org: bool) -> list[tuple[int, str, str, str]]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in EXPECT.finditer(text):
        if m.group(1) and not org:
            continue
        line = int(m.group(5)) if m.group(5) else text.count("\n", 0, m.start()) + 1
        out.append((line, m.group(2), "" if m.group(3) == "-" else m.group(3), m.group(4)))
    return sorted(out)


def found(path: Path, **kw: object) -> list[tuple[int, str, str, str]]:
    return sorted((p.line, p.rule, p.element, p.name) for p in lint_file(path, **kw))  # type: ignore[arg-type]


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 12
    for path in FILES:
        assert expected(path, org=False), f"{path.name} expects nothing"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_lint_reports_exactly_what_the_file_expects(path: Path) -> None:
    assert found(path) == expected(path, org=False)


def test_with_the_organisation_a_lane_no_unit_holds_is_reported() -> None:
    path = CORPUS / "camunda-modeler-5.bpmn"
    with_org = found(path, org=demo_organisation())
    assert with_org == expected(path, org=True)
    assert len(with_org) == len(found(path)) + 1
    [lane] = [p for p in lint_file(path, org=demo_organisation()) if p.rule == "lane-role"]
    for word in ("Lane_1vpdkdd", "Bộ phận Một cửa", "1.001029", "no lienthong:unit-role"):
        assert word in lane.message
    assert "one-stop-desk" in lane.fix  # the roles the organisation has


def test_a_file_with_ten_problems_reports_all_ten_in_document_order() -> None:
    problems = lint_file(CORPUS / "ten-problems.bpmn")
    assert len(problems) == 10
    assert len({p.rule for p in problems}) == 10
    assert [p.line for p in problems] == sorted(p.line for p in problems)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_messages_name_the_element_and_say_what_to_do(path: Path) -> None:
    for p in lint_file(path):
        assert p.fix, p
        assert p.severity == RULES[p.rule].severity
        if p.name:
            # The label the designer sees, beside the id the XML has.
            assert f'"{p.name}" ({p.element})' in p.message, p
        for raw in ("{http://", "<Element", "Multiple outgoing flows", "has no implementation",
                    "Non-default exclusive", "TimerEventDefinition", "MessageEventDefinition"):
            assert raw not in p.message, p


def test_timer_and_message_refusals_name_the_event() -> None:
    ten = lint_file(CORPUS / "ten-problems.bpmn")
    [timer] = [p for p in ten if p.rule == "unsupported-element"]
    assert (timer.element, timer.type, timer.name) == ("overdue", "boundaryEvent",
                                                        "Quá hạn xác minh")
    assert "timer event" in timer.message and "lienthong:share" in timer.fix
    [message] = [p for p in lint_file(CORPUS / "structure.bpmn") if p.element == "answer"]
    assert message.type == "intermediateCatchEvent" and "message event" in message.message


def test_the_fixes_for_other_languages_are_the_python_to_write() -> None:
    fixes = {p.element: p.fix for p in lint_file(CORPUS / "conditions.bpmn")}
    assert fixes["f_juel"] == "write the Python expression approved"
    assert fixes["f_spel"] == "write the Python expression amount > 1000"
    assert fixes["f_feel"] == "write the Python expression amount > 1000 and not(rejected)"
    assert fixes["f_true"] == "write debt_paid == True (true -> True)"
    assert fixes["f_null"] == "write res != None (null -> None)"
    assert fixes["f_assign"] == "write the Python expression approved == 1"
    assert fixes["f_js"] == "write the Python expression approved and not rejected"
    [feel] = [p for p in lint_file(CORPUS / "camunda-8.bpmn") if p.rule == "condition-feel"]
    assert feel.fix == "write the Python expression valid == True"
    [name] = [p for p in lint_file(CORPUS / "conditions.bpmn") if p.rule == "condition-name"]
    assert "did you mean fee_paid?" in name.message


def test_misspelled_and_unprefixed_keys_say_which_key_was_meant() -> None:
    by_line = {p.line: p for p in lint_file(CORPUS / "camunda-modeler-5.bpmn")}
    misspelled = next(p for p in by_line.values() if p.rule == "lienthong-key")
    assert "lienthong:shares" in misspelled.message
    assert "did you mean lienthong:share?" in misspelled.message
    assert misspelled.fix == "rename it lienthong:share"
    unprefixed = next(p for p in by_line.values() if p.rule == "property-prefix")
    assert unprefixed.fix == "rename it lienthong:share"
    ignored = {p.element: p.fix for p in by_line.values() if p.rule == "camunda-ignored"}
    assert "lienthong:unit-role" in ignored["Activity_1a2b3c4"]  # candidateGroups
    assert "lienthong:share" in ignored["Activity_0d4e5f6"]  # dueDate


def test_every_rule_but_those_needing_plugins_or_a_bad_file_has_a_corpus_file() -> None:
    seen = {p.rule for f in FILES for p in lint_file(f, org=demo_organisation())}
    assert set(RULES) - seen == {"file-read", "unknown-operation"}


def test_shares_over_the_deadline_name_the_steps() -> None:
    [p] = [p for p in lint_file(CORPUS / "shares.bpmn") if p.rule == "share-over-deadline"]
    assert "add up to 5d4h (Tiếp nhận hồ sơ 4h + Đo đạc, trích lục bản đồ 3d + Ký Giấy chứng " \
        "nhận 2d), more than the legal deadline 5d" in p.message
