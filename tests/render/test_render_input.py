"""What the picture cannot be drawn from is refused in one line that names the file and the
element; what it can be drawn from with gaps is drawn, with a warning. And the text module's
rules, for every text: wrapping keeps every word, and fitted text fits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from lienthong.bpmn.diagram import MAX_COORDINATE, read_diagram
from lienthong.bpmn.render import render_bpmn
from lienthong.bpmn.svgtext import ELLIPSIS, LINE_HEIGHT, fit, text_width, wrap
from lienthong.errors import LienthongError, ProcedureError

HERE = Path(__file__).parent
REWORK = (HERE / "rework.bpmn").read_text(encoding="utf-8")
CORPUS = HERE.parent / "lint" / "corpus"
SVG = {"s": "http://www.w3.org/2000/svg"}


def refused(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(ProcedureError) as e:
        render_bpmn(data, name="x.bpmn")
    message = str(e.value)
    assert "\n" not in message and message.startswith("x.bpmn: ")
    return message


def test_a_file_without_bpmndi_is_refused_with_what_to_do() -> None:
    message = refused((CORPUS / "ten-problems.bpmn").read_bytes())
    assert "no diagram (BPMNDI)" in message and "bpmn.io or Camunda Modeler" in message


def test_not_xml_and_not_bpmn_are_named() -> None:
    assert re.match(r"x\.bpmn: line \d+: not well-formed XML", refused(b"<bpmn:definitions"))
    assert "not a BPMN 2.0 file: its root element is svg" in refused(b"<svg/>")
    with pytest.raises(ProcedureError, match="cannot read"):
        read_diagram(HERE / "none.bpmn")


def test_an_empty_diagram_is_refused() -> None:
    text = re.sub(r"<bpmndi:BPMNPlane .*</bpmndi:BPMNPlane>", "", REWORK, flags=re.S)
    assert "the diagram rework_diagram has no shapes to draw" in refused(text)


SHAPE_END = '"/>\n      </bpmndi:BPMNShape>\n      <bpmndi:BPMNShape id="merge_di"'
AT = '<dc:Bounds x="340" y="145"'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (AT, '<dc:Bounds x="abc" y="145"', "reception_di: Bounds x is 'abc'"),
        (AT, '<dc:Bounds x="nan" y="145"', "reception_di: Bounds x is 'nan'"),
        (AT, f'<dc:Bounds x="{MAX_COORDINATE * 10}" y="145"', "reception_di: Bounds x is"),
        (AT + ' width="140"', AT, "reception_di: Bounds width is missing"),
        ('height="90' + SHAPE_END, 'height="-90' + SHAPE_END, "reception_di: dc:Bounds has a "
         "negative size"),
        ('<di:waypoint x="1070" y="190"/>', "", "edge f_return_di has 1 waypoint(s)"),
        ('<di:waypoint x="1070" y="190"/>', '<di:waypoint x="1070" y="inf"/>',
         "f_return_di: waypoint y is 'inf'"),
    ],
)  # fmt: skip
def test_bad_bounds_and_waypoints_name_the_shape_and_the_line(
    old: str, new: str, expected: str
) -> None:
    assert old in REWORK
    message = refused(REWORK.replace(old, new, 1))
    assert expected in message
    assert re.match(r"x\.bpmn: line \d+: ", message)


def test_a_shape_without_bounds_is_refused() -> None:
    text = re.sub(r'(<bpmndi:BPMNShape id="reception_di"[^>]*>)\s*<dc:Bounds[^>]*/>', r"\1", REWORK)
    assert "shape reception_di has no dc:Bounds" in refused(text)


def test_gaps_are_drawn_with_a_warning() -> None:
    # A shape for an element the file lacks (bpmn-js warns and skips it), and an element
    # without a shape.
    text = REWORK.replace('bpmnElement="reception"', 'bpmnElement="gone"')
    d = read_diagram(text.encode("utf-8"), name="x.bpmn")
    [other] = [s for s in d.shapes if s.id == "gone"]
    assert other.kind == "other" and other.tag == ""
    assert any("name no element of the file" in w and "gone" in w for w in d.warnings)
    assert any("have no shape" in w and "reception" in w for w in d.warnings)
    svg = etree.fromstring(render_bpmn(text.encode("utf-8")).encode("utf-8"))
    assert svg.xpath("//s:g[@data-element-id='gone']", namespaces=SVG)


def test_hostile_text_stays_text() -> None:
    text = REWORK.replace('name="Thẩm định hồ sơ"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;"')
    svg = render_bpmn(text.encode("utf-8"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    colour = REWORK.replace(
        '<bpmndi:BPMNShape id="reception_di" bpmnElement="reception">',
        '<bpmndi:BPMNShape id="reception_di" bpmnElement="reception" '
        'xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0" bioc:fill="url(javascript:x)" '
        'bioc:stroke="#ff0000">',
    )
    shape = etree.fromstring(render_bpmn(colour.encode("utf-8")).encode("utf-8")).xpath(
        "//s:g[@data-element-id='reception']/s:rect", namespaces=SVG
    )[0]
    assert shape.get("stroke") == "#ff0000" and "javascript" not in shape.get("fill")


def test_every_error_is_a_lienthong_error() -> None:
    for data in (b"", b"\xff\xfe", b"<?xml version='1.0'?>", b"<a:b xmlns:a='x'/>"):
        with pytest.raises(LienthongError):
            render_bpmn(data)


# -- text ----------------------------------------------------------------------------------------
WORDS = st.text(
    alphabet=st.sampled_from("abcdeđêếệôơưứựĐÁ ÀẢÃẠ–-/WMi.,() 0123456789"), min_size=0, max_size=80
)


@settings(max_examples=300, deadline=None)
@given(WORDS, st.floats(min_value=20, max_value=300), st.floats(min_value=8, max_value=14))
def test_wrapping_keeps_every_letter_and_keeps_to_the_width(
    text: str, width: float, size: float
) -> None:
    lines = wrap(text, width, size)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        # Only a single letter wider than the line may stick out.
        assert text_width(line, size) <= width + 1e-6 or len(line) == 1


@settings(max_examples=300, deadline=None)
@given(WORDS, st.floats(min_value=20, max_value=300), st.floats(min_value=12, max_value=100))
def test_fitted_text_fits_or_says_it_was_cut(text: str, width: float, height: float) -> None:
    f = fit(text, width, height, size=12, smallest=9)
    assert 9 <= f.size <= 12
    if f.cut:
        assert f.lines[-1].endswith(ELLIPSIS)
        assert len(f.lines) == max(int((height + 0.01) // (f.size * LINE_HEIGHT)), 1)
    else:
        assert f.height <= height + 0.01
        assert "".join(f.lines).replace(" ", "") == text.replace(" ", "")


def test_a_word_is_cut_only_when_no_size_keeps_it_whole() -> None:
    # "Participant" is too wide for 60 pixels at 12, not at 10.5: the smaller size wins.
    f = fit("Participant", 60, 30, size=12, smallest=9)
    assert f.lines == ("Participant",) and f.size < 12
    assert len(fit("Participant", 30, 30, size=12, smallest=9).lines) > 1
