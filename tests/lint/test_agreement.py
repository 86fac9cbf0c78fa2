"""Lint and load never disagree: a file loads exactly when lint finds no error in it, and a
refusal lists the errors lint reports, the same records, in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from lienthong import ProcedureError, load_procedure
from lienthong.bpmn.lint import lint_bytes, lint_file
from lienthong.bpmn.problems import ERROR
from lienthong.bpmn.procedures import procedure_from_store
from lienthong.testing import demo_organisation

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
SAMPLES = sorted((ROOT / "processes").glob("*.bpmn"))
ORG = demo_organisation()


def agree(data: bytes, name: str, **kw: object) -> None:
    errors = [p for p in lint_bytes(data, name, **kw) if p.severity == ERROR]  # type: ignore[arg-type]
    if not errors:
        assert load_procedure(data, name=name, **kw).code  # type: ignore[arg-type]
        return
    with pytest.raises(ProcedureError) as info:
        load_procedure(data, name=name, **kw)  # type: ignore[arg-type]
    assert list(info.value.problems) == errors
    for p in errors:
        assert p.message in str(info.value)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_corpus_file_loads_exactly_when_lint_has_no_error(path: Path) -> None:
    agree(path.read_bytes(), path.name)
    agree(path.read_bytes(), path.name, org=ORG)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_the_sample_processes_lint_clean_and_load(path: Path) -> None:
    assert lint_file(path, org=ORG) == []
    assert load_procedure(path, org=ORG).code


def test_one_error_is_one_line_and_several_are_one_line_each() -> None:
    data = (CORPUS / "ten-problems.bpmn").read_bytes()
    with pytest.raises(ProcedureError) as info:
        load_procedure(data, name="ten.bpmn")
    lines = str(info.value).splitlines()
    assert lines[0] == "ten.bpmn: 9 problems refuse the file:"
    assert len(lines) == 10 and all(line.startswith("  line ") for line in lines[1:])
    khai_sinh = (ROOT / "processes" / "khai-sinh-thuong-tru-bhyt.bpmn").read_bytes()
    one = khai_sinh.replace(b'value="1d"', b'value="one day"', 1)
    with pytest.raises(ProcedureError) as info:
        load_procedure(one, name="one.bpmn")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("one.bpmn: line ")
    assert str(info.value).endswith("[duration]")


def test_a_stored_version_is_read_again_without_the_rules_added_since() -> None:
    # A version stored before lint existed may hold what lint now refuses (true for True): the
    # dossiers received under it must still run; what was always refused still is.
    base = (CORPUS / "camunda-8.bpmn").read_bytes()
    literal = base.replace(b"=valid = true", b"valid == true")
    with pytest.raises(ProcedureError, match=r"\[condition-literal\]"):
        load_procedure(literal, name="v1.bpmn")
    assert procedure_from_store(literal, name="v1.bpmn").code == "2.000720"
    juel = base.replace(b"=valid = true", b"${valid}")
    with pytest.raises(ProcedureError, match=r"\[condition-juel\]"):
        procedure_from_store(juel, name="v1.bpmn")


def test_camunda_8_properties_are_read_like_camunda_7s() -> None:
    data = (CORPUS / "camunda-8.bpmn").read_bytes().replace(b"=valid = true", b"valid")
    proc = load_procedure(data, name="ho-kinh-doanh.bpmn", org=ORG)
    assert (proc.code, proc.deadline_text) == ("2.000720", "3d")
    assert proc.steps["Activity_receive"].share_minutes == 2 * 480
    assert proc.steps["Activity_receive"].step_kind == "reception"
    assert proc.steps["Activity_receive"].required_fields == ("valid",)
    assert proc.steps["Activity_tax"].operation == "tax.register_household"
    assert proc.lanes["Lane_tax"].role == "tax-office" and proc.lanes["Lane_tax"].coordinating


# -- any file: mutations of the sample processes ---------------------------------------------------
VALUES = ["", "0", "1d", "-1d", "2 ngày", "same-day", "true", "yes", "reception", "x", "5d4h"]
CONDITIONS = ["True", "approved", "${approved}", "=x = 1", "x == true", "a = 1", "a &&", "_x",
              "len(documents) > 0", "", "import os"]


def mutate(data: bytes, choice: int, op: int, text: str) -> bytes:
    root = etree.fromstring(data)
    elements = [e for e in root.iter(etree.Element) if e is not root]
    el = elements[choice % len(elements)]
    if op == 0 and el.getparent() is not None:
        el.getparent().remove(el)
    elif op == 1:
        for attr in ("value", "sourceRef", "targetRef", "id", "isExecutable", "default"):
            if attr in el.attrib:
                el.set(attr, text)
                break
    elif op == 2:
        el.text = text
    elif op == 3 and el.getparent() is not None:
        el.getparent().append(etree.fromstring(etree.tostring(el)))  # a copy: ids twice
    else:
        el.set("name", text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    choice=st.integers(min_value=0, max_value=10_000),
    op=st.integers(min_value=0, max_value=4),
    text=st.sampled_from(VALUES + CONDITIONS),
    with_org=st.booleans(),
)
def test_any_mutated_file_is_linted_without_a_traceback_and_load_agrees(
    sample: Path, choice: int, op: int, text: str, with_org: bool
) -> None:
    data = mutate(sample.read_bytes(), choice, op, text)
    agree(data, "mutated.bpmn", **({"org": ORG} if with_org else {}))
