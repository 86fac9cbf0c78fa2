"""``Engine.dossier_diagram``: a dossier driven through the engine with a fixed clock, drawn at
several instants; each task's colour is its steps' state then."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from lienthong import Channel, Engine, FixedClock
from lienthong.errors import DossierNotFound, InvalidData
from lienthong.reports.diagram import CANCELLED, EARLY, LATE, NOT_REACHED, OPEN, OVERDUE, STATES
from support import BHXH, COMMUNE, DESK, POLICE, officer_of, receive_birth, snapshot, vn

REWORK = Path(__file__).parent / "rework.bpmn"
SVG = {"s": "http://www.w3.org/2000/svg"}


def picture(engine: Engine, code: str, at: datetime | None = None) -> etree._Element:
    return etree.fromstring(engine.dossier_diagram(code, at=at).encode("utf-8"))


def states(svg: etree._Element) -> dict[str, str]:
    """Task id -> the state its colour says, read from the SVG: the fill and stroke of its box."""
    by_colour = {(s.fill, s.stroke): name for name, s in STATES.items()}
    out = {}
    for g in svg.xpath("//s:g[@data-element-id][contains(@class, 'task ')]", namespaces=SVG):
        box = g.find("s:rect", namespaces=SVG)
        state = by_colour.get((box.get("fill"), box.get("stroke")))
        if state is not None:
            assert state in g.get("class").split()  # the class says it too
            out[g.get("data-element-id")] = state
    return out


def pill(svg: etree._Element, task: str) -> str:
    [g] = svg.xpath(f"//s:g[@data-element-id='{task}']", namespaces=SVG)
    rect = g.xpath(".//s:rect[@class='pill']", namespaces=SVG)[0]
    return " ".join("".join(rect.getnext().itertext()).split())


def test_each_task_is_coloured_by_its_steps_state(engine: Engine, clock: FixedClock) -> None:
    d = receive_birth(engine)
    [reception] = engine.open_steps(unit=DESK)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    [birth] = engine.open_steps(unit=COMMUNE)
    assert birth.due_at == vn(2025, 3, 4, 10, 0)

    clock.set(vn(2025, 3, 4, 11, 0))  # an hour past the birth registration's due instant
    now = picture(engine, d.code)
    later = {"register_residence", "record_residence", "review_card", "issue_card"}
    assert states(now) == {
        "reception": EARLY,
        "register_birth": OVERDUE,
        "return_result": NOT_REACHED,
        **dict.fromkeys(later, NOT_REACHED),
    }
    # The script task is no step: it keeps the plain picture's colours.
    [forward] = now.xpath("//s:g[@data-element-id='forward']/s:rect", namespaces=SVG)
    assert forward.get("fill") not in {s.fill for s in STATES.values()}
    assert pill(now, "reception") == "Trước hạn"
    assert pill(now, "register_birth") == "quá hạn 10:00 04/03"
    assert pill(now, "register_residence") == "2d"  # not reached: its share

    engine.complete(d.code, birth.id, officer_of(engine, COMMUNE), {"birth_certificate_no": "1"})
    clock.set(vn(2025, 3, 5, 9, 0))
    [card] = engine.open_steps(unit=BHXH)
    engine.complete(d.code, card.id, officer_of(engine, BHXH))  # issue_card runs at once
    [residence] = engine.open_steps(unit=POLICE)
    assert residence.due_at == vn(2025, 3, 6, 11, 0)

    after = picture(engine, d.code)  # 5/3 09:00
    assert states(after) == {
        "reception": EARLY,
        "register_birth": LATE,
        "register_residence": OPEN,
        "review_card": EARLY,
        "issue_card": EARLY,
        "record_residence": NOT_REACHED,
        "return_result": NOT_REACHED,
    }
    assert pill(after, "register_birth") == "Quá hạn +1h"  # 10:00 to 11:00, working time
    assert pill(after, "register_residence") == "hạn 11:00 06/03"

    # Drawn at an earlier instant, the dossier is as it stood then.
    assert states(picture(engine, d.code, vn(2025, 3, 4, 9, 30)))["register_birth"] == OPEN
    assert states(picture(engine, d.code, vn(2025, 3, 6, 12, 0)))["register_residence"] == OVERDUE
    before = states(picture(engine, d.code, vn(2025, 3, 3, 9, 30)))
    assert before["reception"] == OPEN and before["register_birth"] == NOT_REACHED

    clock.set(vn(2025, 3, 5, 10, 0))
    engine.withdraw(d.code, reason="Người nộp rút hồ sơ")
    gone = picture(engine, d.code)
    assert states(gone)["register_residence"] == CANCELLED
    assert pill(gone, "register_residence") == "Đã hủy"


def test_the_legend_and_caption_say_what_the_colours_mean(
    engine: Engine, clock: FixedClock
) -> None:
    d = receive_birth(engine, channel=Channel.ONLINE)  # to be accepted in 8 working hours
    clock.set(vn(2025, 3, 5, 9, 0))  # the reception step went overdue the day before
    svg = picture(engine, d.code)
    legend = " ".join(svg.xpath("//s:g[@class='legend']//text()", namespaces=SVG))
    for state in STATES.values():
        assert state.label in legend
    caption = " ".join(
        " ".join(t.itertext()) for t in svg.xpath("//s:g[@class='caption']/s:text", namespaces=SVG)
    )
    assert d.code in caption and "233448" in caption
    assert "as of 09:00 05/03/2025: 0 task(s) done" in caption and "1 open (1 overdue)" in caption
    # No blue longest path on a dossier's picture: the colours are the states'.
    assert svg.xpath("//s:g[contains(@class, 'longest')]", namespaces=SVG) == []


def test_a_task_run_twice_says_so(make_engine, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    engine.load_procedure(REWORK)
    d = engine.receive("T.REWORK", applicant={"name": "Lê Văn Bình"}, receiving_unit=DESK,
                       documents=[])  # fmt: skip
    [reception] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    [first] = engine.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 4, 10, 0))
    engine.complete(d.code, first.id, officer_of(engine, first.unit), {"approved": False})
    [second] = engine.open_steps(dossier=d.code)
    assert second.spec_id == first.spec_id == "appraise" and second.id != first.id

    svg = picture(engine, d.code)
    [g] = svg.xpath("//s:g[@data-element-id='appraise']", namespaces=SVG)
    badge = g.xpath(".//s:rect[@class='badge']", namespaces=SVG)[0]
    assert "".join(badge.getnext().itertext()) == "×2"
    assert states(svg)["appraise"] == OPEN  # its latest run
    title = g.find("s:title", namespaces=SVG).text
    assert "run 1: done early (trước hạn)" in title and "run 2: open (đang xử lý)" in title
    # Before the second run opened, the task had run once.
    once = picture(engine, d.code, vn(2025, 3, 4, 9, 0))
    [g1] = once.xpath("//s:g[@data-element-id='appraise']", namespaces=SVG)
    assert g1.xpath(".//s:rect[@class='badge']", namespaces=SVG) == []
    assert states(once)["appraise"] == OPEN


def test_bad_arguments_are_named_and_change_nothing(engine: Engine, clock: FixedClock) -> None:
    d = receive_birth(engine)
    before = snapshot(engine)
    with pytest.raises(DossierNotFound, match="no dossier 'NOPE'"):
        engine.dossier_diagram("NOPE")
    with pytest.raises(InvalidData, match="at: 2025-03-03T09:00:00 is naive"):
        engine.dossier_diagram(d.code, at=datetime(2025, 3, 3, 9, 0))
    with pytest.raises(InvalidData, match="at: expected a timezone-aware datetime"):
        engine.dossier_diagram(d.code, at="2025-03-03")  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="dossier"):
        engine.dossier_diagram(42)  # type: ignore[arg-type]
    assert snapshot(engine) == before
