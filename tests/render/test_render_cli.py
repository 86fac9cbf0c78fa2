"""``lienthong render`` and ``lienthong dossier diagram``: files, stored procedures, output,
and a one-line error for each bad argument."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from lxml import etree

from lienthong import Engine, FixedClock
from lienthong.bpmn.render import render_bpmn
from lienthong.testing.databases import store_for
from support import DESK, KHAI_SINH, officer_of, receive_birth, vn

CORPUS = Path(__file__).parent.parent / "lint" / "corpus"
SVG = {"s": "http://www.w3.org/2000/svg"}


def run(*args: str) -> Result:
    from lienthong.cli import main

    return CliRunner().invoke(main, list(args))


def one_line_error(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for w in words:
        assert w in lines[0]


def test_render_a_file(tmp_path: Path) -> None:
    out = tmp_path / "k.svg"
    result = run("render", str(KHAI_SINH), "--out", str(out))
    assert result.exit_code == 0 and result.output == ""
    assert out.read_text(encoding="utf-8") == render_bpmn(KHAI_SINH)
    to_stdout = run("render", str(KHAI_SINH), "--out", "-")
    assert to_stdout.exit_code == 0 and to_stdout.stdout == render_bpmn(KHAI_SINH)


def test_render_a_stored_procedure_by_code(engine: Engine, tmp_path: Path) -> None:
    db = store_for(tmp_path / "lienthong.db")  # the engine fixture's file, with its organisation
    out = tmp_path / "k.svg"
    result = run("render", "233448", "--db", db, "--out", str(out))
    assert result.exit_code == 0, result.output
    svg = etree.fromstring(out.read_bytes())
    ids = set(svg.xpath("//s:g/@data-element-id", namespaces=SVG))
    assert {"reception", "register_birth", "split", "join"} <= ids
    one_line_error(run("render", "9.999", "--db", db, "--out", str(out)),
                   "unknown procedure '9.999'", "233448")  # fmt: skip
    one_line_error(run("render", "233448", "--db", str(tmp_path / "no.db"), "--out", str(out)),
                   "no such database file")  # fmt: skip


def test_render_refuses_in_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "x.svg")
    one_line_error(run("render", str(tmp_path / "none.bpmn"), "--out", out), "no such file")
    one_line_error(run("render", str(tmp_path), "--out", out), "a folder, not a BPMN file")
    one_line_error(run("render", str(CORPUS / "ten-problems.bpmn"), "--out", out),
                   "no diagram (BPMNDI)")  # fmt: skip
    one_line_error(run("render", str(CORPUS / "broken-xml.bpmn"), "--out", out),
                   "not well-formed XML")  # fmt: skip
    one_line_error(run("render", str(KHAI_SINH), "--out", str(tmp_path / "no" / "x.svg")),
                   "cannot write the picture")  # fmt: skip
    assert not Path(out).exists()
    missing = run("render", str(KHAI_SINH))
    assert missing.exit_code == 2 and "--out" in missing.stderr


def test_render_warns_of_what_lint_refuses_and_still_draws(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text(KHAI_SINH.read_text(encoding="utf-8").replace('value="2d"', 'value="2 ngày"'),
                   encoding="utf-8")  # fmt: skip
    result = run("render", str(bad), "--out", str(tmp_path / "bad.svg"))
    assert result.exit_code == 0
    assert result.stderr.startswith(f"Warning: {bad}: lienthong lint finds 2 error(s)")
    assert (tmp_path / "bad.svg").exists()


def test_dossier_diagram(engine: Engine, clock: FixedClock, tmp_path: Path) -> None:
    d = receive_birth(engine)
    [reception] = engine.open_steps(unit=DESK)
    clock.set(vn(2025, 3, 3, 10, 0))
    engine.complete(d.code, reception.id, officer_of(engine, DESK))
    db, out = store_for(tmp_path / "lienthong.db"), tmp_path / "d.svg"
    result = run("dossier", "diagram", d.code, "--db", db, "--at", "2025-03-03T10:30",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == engine.dossier_diagram(
        d.code, at=vn(2025, 3, 3, 10, 30)
    )
    with_offset = run("dossier", "diagram", d.code, "--db", db, "--out", "-",
                      "--at", "2025-03-03T03:30+00:00")  # fmt: skip
    assert with_offset.stdout == out.read_text(encoding="utf-8")
    bad_at = run("dossier", "diagram", d.code, "--db", db, "--out", "-", "--at", "hôm qua")
    assert bad_at.exit_code == 2 and "'hôm qua' is not an ISO 8601 instant" in bad_at.stderr
    one_line_error(run("dossier", "diagram", "NOPE", "--db", db, "--out", str(out)),
                   "no dossier 'NOPE'")  # fmt: skip
