"""The pictures in docs/images/rendered/ are what ``lienthong render`` draws now, for every
process in processes/, and docs/designers.md shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from lienthong.bpmn.render import render_bpmn
from lienthong.reports.diagram import OVERDUE, STATES

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images" / "rendered"
PAGE = (ROOT / "docs" / "designers.md").read_text(encoding="utf-8")
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
SVG = {"s": "http://www.w3.org/2000/svg"}


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.name)
def test_each_process_has_its_picture_as_drawn_now(path: Path) -> None:
    picture = IMAGES / f"{path.stem}.svg"
    assert picture.is_file(), f"{picture} is missing: run make images"
    assert picture.read_text(encoding="utf-8") == render_bpmn(path), (
        f"{picture} is not what lienthong render draws now: run make images"
    )


def test_the_dossier_picture_shows_a_dossier_in_progress() -> None:
    svg = etree.parse(str(IMAGES / "dossier-khai-sinh-in-progress.svg"))
    classes = [g.get("class").split() for g in svg.xpath("//s:g[@data-element-id]", namespaces=SVG)]
    shown = {c for cs in classes for c in cs} & set(STATES)
    assert OVERDUE in shown and len(shown) >= 4


def test_the_page_shows_every_picture_and_every_state() -> None:
    linked = set(re.findall(r"\(images/rendered/([^)]+\.svg)\)", PAGE))
    assert linked == {p.name for p in IMAGES.glob("*.svg")}
    section = PAGE.split("### A dossier's progress", 1)[1].split("###", 1)[0]
    rows = re.findall(r"^\| [^|]+ \| ([^|]+) \|", section, re.M)[1:]  # past the header
    assert len(rows) == len(STATES)
    for state, row in zip(STATES.values(), rows, strict=True):
        assert state.label.split(" (")[1].rstrip(")").split(",")[0] in row
