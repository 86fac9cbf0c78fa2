"""The engine loads by lint's rules: lane roles against its organisation, operations against its
plugins, and a folder all at once or not at all, naming every refused file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lienthong import Engine, ProcedureError
from lienthong.testing import StubOperations
from support import ARCHIVE, KHAI_SINH, LAND, snapshot

CORPUS = Path(__file__).parent / "corpus"


def test_a_lane_no_unit_holds_is_refused_at_load_naming_file_lane_and_procedure(
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine()
    before = snapshot(engine)
    data = KHAI_SINH.read_bytes().replace(
        b'name="lienthong:unit-role" value="police-residence"',
        b'name="lienthong:unit-role" value="cong-an-xa"',
    )
    with pytest.raises(ProcedureError) as info:
        engine.load_procedure(data, name="khai-sinh.bpmn")
    message = str(info.value)
    for word in ("khai-sinh.bpmn: line ", 'lane "Công an – đăng ký cư trú" (police-residence)',
                 "'cong-an-xa'", "procedure 233448", "[lane-role]"):
        assert word in message, message
    [problem] = info.value.problems
    assert (problem.rule, problem.element) == ("lane-role", "police-residence")  # type: ignore[attr-defined]
    assert snapshot(engine) == before and engine.procedures() == []
    # Before lint, this file loaded and every dossier failed at reception instead.
    engine.load_procedure(KHAI_SINH)
    assert [p.code for p in engine.procedures()] == ["233448"]


def test_a_folder_with_bad_files_loads_none_and_names_every_bad_file(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    folder = tmp_path / "procedures"
    folder.mkdir()
    for good in (KHAI_SINH, LAND, ARCHIVE):
        shutil.copy(good, folder / good.name)
    shutil.copy(CORPUS / "ten-problems.bpmn", folder / "a-ten.bpmn")
    shutil.copy(CORPUS / "camunda-8.bpmn", folder / "z-camunda-8.bpmn")
    two = StubOperations({"police.record_residence": {}, "social_insurance.issue_card": {}})
    engine = make_engine(plugins=[two])
    before = snapshot(engine)
    with pytest.raises(ProcedureError) as info:
        engine.load_procedures(folder)
    message = str(info.value)
    assert message.splitlines()[0] == (
        f"{folder}: 2 of 5 BPMN files are refused, so none was loaded:"
    )
    assert f"{folder / 'a-ten.bpmn'}: 9 problems refuse the file:" in message
    # The engine's plugins perform no tax operation: that is the second problem of the file.
    assert f"{folder / 'z-camunda-8.bpmn'}: 2 problems refuse the file:" in message
    assert "[condition-feel]" in message and "'tax.register_household'" in message
    assert len(info.value.problems) == 11
    assert engine.procedures() == [] and snapshot(engine) == before
    # The good ones alone load, all three.
    (folder / "a-ten.bpmn").unlink()
    (folder / "z-camunda-8.bpmn").unlink()
    assert len(engine.load_procedures(folder)) == 3
    assert {p.code for p in engine.procedures()} == {"233448", "1.013831", "1.013932"}


def test_a_warning_does_not_stop_a_file_from_loading(make_engine: Callable[..., Engine]) -> None:
    data = KHAI_SINH.read_text(encoding="utf-8")
    cut = data[: data.index("<bpmndi:BPMNDiagram")] + "</bpmn:definitions>\n"
    assert make_engine().load_procedure(cut.encode(), name="no-diagram.bpmn").code == "233448"
