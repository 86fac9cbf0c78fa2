"""``lienthong procedure new``: a published internal process as a table becomes a BPMN file that
loads, lints clean, runs a dossier to the end and is drawn without overlaps; a bad table is
refused naming its rows and columns, and nothing is written.

The tables in ``examples/tables/`` are real published procedures (``docs/designers.md``, "From a
table"); the random ones of the properties are made here.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from lienthong import FixedClock, Status, TableError
from lienthong.bpmn import lint_paths
from lienthong.bpmn.table_input import parse_time, read_table
from lienthong.bpmn.tables import table_bpmn
from lienthong.cli import main
from lienthong.testing import StubOperations, make_test_engine, run_dossier
from support import ROOT, vn

TABLES = sorted((ROOT / "examples" / "tables").glob("*.*"))
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
#: The sample plugins' operations, with canned results, for the tables that have service steps.
AGENCIES = {
    "police.record_residence": {"residence_recorded": True},
    "social_insurance.issue_card": {"health_insurance_card": "TE1"},
    "tax.register_household": {"tax_registered": True, "tax_code": "038190001234"},
}


def build(tmp_path: Path, table: Path) -> Path:
    out = tmp_path / f"{table.stem}.bpmn"
    out.write_bytes(table_bpmn(read_table(table), name=str(out)).bpmn)
    return out


def test_the_examples_are_the_published_procedures() -> None:
    names = {t.stem for t in TABLES}
    # The three of procedures.md (§1, §2, §3b) and the four of processes/ made from tables.
    assert {"khai-sinh-thuong-tru-bhyt", "dang-ky-bien-dong-chuyen-nhuong"} <= names
    assert "phuc-vu-doc-tai-lieu-luu-tru" in names
    assert len(TABLES) >= 7


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_a_table_makes_a_file_that_loads_lints_clean_and_runs_to_the_end(
    tmp_path: Path, table: Path
) -> None:
    out = build(tmp_path, table)
    assert lint_paths([out], org=None) == []
    clock = FixedClock(vn(2026, 3, 2, 8, 0))  # a Monday with no holiday near
    stub = StubOperations(AGENCIES)
    engine = make_test_engine(stub, clock=clock, processes=[out])
    proc = engine.procedures()[0]
    assert lint_paths([out], org=engine.org) == []  # every lane's role is the demo's
    code = run_dossier(engine, clock, proc.code, minutes_per_step=20)
    done = engine.dossier(code)
    assert done.status == Status.RETURNED, [s.spec_id for s in engine.open_steps(dossier=code)]
    assert done.resolved_at is not None and done.resolved_at <= done.appointment
    rows = read_table(table).rows
    assert {s.spec_id for s in engine.steps(code)} <= {r.id for r in rows}
    services = [r.operation for r in rows if r.operation]
    assert [op for op, c in stub.calls if c == code] == services
    engine.close()


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_the_steps_keep_the_tables_order_roles_times_and_kinds(tmp_path: Path, table: Path) -> None:
    t = read_table(table)
    out = build(tmp_path, table)
    from lienthong.bpmn import load_procedure

    proc = load_procedure(out)
    assert [s.id for s in proc.steps.values()] == [r.id for r in t.rows]
    for r in t.rows:
        s = proc.steps[r.id]
        assert (s.role, s.share_minutes, s.step_kind, s.required_fields) == (
            r.role, r.minutes, r.kind, r.fields,
        )  # fmt: skip
        assert s.kind == ("service" if r.operation else "user")
        assert s.name == r.name
    assert proc.deadline_minutes == t.deadline_minutes and proc.same_day == t.same_day


# -- the diagram ------------------------------------------------------------------------------
def _boxes(root: etree._Element) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for s in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = s.find("dc:Bounds", NS)
        out[s.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def _inside(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return (
        b[0] <= a[0] and a[0] + a[2] <= b[0] + b[2] and b[1] <= a[1] and a[1] + a[3] <= b[1] + b[3]
    )


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _crosses(p: tuple[float, float], q: tuple[float, float], box: tuple[float, ...]) -> bool:
    """Whether the axis-parallel segment p-q runs through the inside of ``box``."""
    x, y, w, h = box
    if p[1] == q[1]:
        return y < p[1] < y + h and min(p[0], q[0]) < x + w and x < max(p[0], q[0])
    return x < p[0] < x + w and min(p[1], q[1]) < y + h and y < max(p[1], q[1])


def check_drawing(data: bytes) -> None:
    """What bpmn.io and Camunda Modeler need to show the file without overlaps."""
    root = etree.fromstring(data)
    boxes = _boxes(root)
    proc = root.find("bpmn:process", NS)
    lanes = {ln.get("id"): ln for ln in proc.iterfind(".//bpmn:lane", NS)}
    nodes = {
        el.get("id"): el
        for el in proc
        if etree.QName(el).localname.endswith(("Event", "Task", "Gateway"))
    }
    pool = next(k for k in boxes if k.endswith("_participant"))
    assert set(boxes) == {pool, *lanes, *nodes}, "one shape for each node, lane and the pool"
    for lane_id, lane in lanes.items():
        assert _inside(boxes[lane_id], boxes[pool])
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert _inside(boxes[ref.text], boxes[lane_id]), f"{ref.text} outside {lane_id}"
    for a, b in itertools.combinations(list(lanes), 2):
        assert not _overlap(boxes[a], boxes[b]), (a, b)
    for a, b in itertools.combinations(list(nodes), 2):
        assert not _overlap(boxes[a], boxes[b]), (a, b)
    labels = [
        (s.get("bpmnElement"), tuple(float(v) for v in lb.attrib.values()))
        for s in root.iterfind(".//bpmndi:BPMNShape", NS)
        for lb in s.iterfind("bpmndi:BPMNLabel/dc:Bounds", NS)
    ]
    for owner, label in labels:
        for other, box in ((k, boxes[k]) for k in nodes):
            assert not _overlap(label, box), f"the label of {owner} covers {other}"
    flows = {f.get("id"): f for f in proc.iterfind("bpmn:sequenceFlow", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert set(edges) == set(flows)
    for fid, edge in edges.items():
        points = [(float(w.get("x")), float(w.get("y"))) for w in edge.iterfind("di:waypoint", NS)]
        assert len(points) >= 2
        for p, q in itertools.pairwise(points):
            assert p[0] == q[0] or p[1] == q[1], f"{fid} is not orthogonal"
            for nid, box in boxes.items():
                if nid in nodes and nid not in (
                    flows[fid].get("sourceRef"),
                    flows[fid].get("targetRef"),
                ):
                    assert not _crosses(p, q, box), f"{fid} runs through {nid}"
        for end, nid in ((points[0], "sourceRef"), (points[-1], "targetRef")):
            x, y, w, h = boxes[flows[fid].get(nid)]
            on_edge = x <= end[0] <= x + w and y <= end[1] <= y + h
            assert on_edge and (end[0] in (x, x + w, x + w / 2) or end[1] in (y, y + h)), (fid, nid)


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_the_diagram_has_no_overlaps(table: Path) -> None:
    check_drawing(table_bpmn(read_table(table)).bpmn)


@pytest.mark.parametrize("path", sorted((ROOT / "processes").glob("*.bpmn")), ids=lambda p: p.name)
def test_the_files_of_processes_made_from_tables_are_their_tables(path: Path) -> None:
    """A file of processes/ with a table of the same name is what the table makes: regenerate
    it with ``lienthong procedure new --from examples/tables/X.csv --out processes/X.bpmn``."""
    tables = [t for t in TABLES if t.stem == path.stem]
    made = etree.fromstring(path.read_bytes()).get("exporter") == "lienthong procedure new"
    if not made:
        pytest.skip("drawn by hand")
    assert tables, f"{path.name} was made from a table that examples/tables/ does not have"
    assert table_bpmn(read_table(tables[0]), name=str(path)).bpmn == path.read_bytes()


ROLES = ["one-stop-desk", "land-registration-office", "tax-office", "archive-centre"]


@st.composite
def random_tables(draw: st.DrawFn) -> str:
    """A CSV table of steps, parallel groups and choice groups, in the demo's roles."""
    lines = [
        "code,T.1",
        "name,Thủ tục thử",
        "deadline,100d",
        "",
        "no,name,role,time,parallel,choice,condition,fields",
    ]
    n = 0

    def step(
        group: str = "", choice: str = "", condition: str = "", role: str | None = None
    ) -> None:
        nonlocal n
        n += 1
        r = role or draw(st.sampled_from(ROLES))
        t = draw(st.sampled_from(["0", "2 giờ", "0,5 ngày", "1 ngày"]))
        lines.append(f'{n},Bước {n},{r},"{t}",{group},{choice},{condition},f{n}')

    for b in range(draw(st.integers(1, 6))):  # a condition reads reception data: no warning
        kind = draw(st.sampled_from(["step", "step", "parallel", "choice"]))
        if kind == "step":
            step()
        elif kind == "parallel":
            for r in draw(st.lists(st.sampled_from(ROLES), min_size=2, max_size=3, unique=True)):
                for _ in range(draw(st.integers(1, 2))):
                    step(group=f"P{b}", role=r)
        else:
            for k in range(draw(st.integers(2, 3))):
                cond = "" if k == 0 else f"len(documents) == {k}"
                for _ in range(draw(st.integers(1, 2))):  # a branch's rows repeat its condition
                    step(choice=f"C{b}", condition=cond)
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_tables())
def test_any_table_of_groups_is_drawn_without_overlaps_and_loads(tmp_path_factory, text) -> None:
    folder = tmp_path_factory.mktemp("random")
    src = folder / "t.csv"
    src.write_text(text, encoding="utf-8")
    built = table_bpmn(read_table(src), name="t.bpmn")
    check_drawing(built.bpmn)
    out = folder / "t.bpmn"
    out.write_bytes(built.bpmn)
    assert lint_paths([out]) == []


# -- times ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("0,5 ngày", 240), ("4,5 ngày", 2160), ("04 giờ", 240), ("112 giờ", 6720),
        ("03 ngày làm việc", 1440), ("Không quá 08 ngày làm việc", 3840), ("90 phút", 90),
        ("1 ngày 4 giờ", 720), ("1d4h", 720), ("0.25d", 120), ("Giờ hành chính", 0),
        ("Không tính thời gian", 0), ("theo quy định của pháp luật", 0), ("", 0),
    ],
)  # fmt: skip
def test_times_as_the_published_tables_write_them(text: str, minutes: int) -> None:
    assert parse_time(text) == (minutes, False)


def test_same_day_is_a_deadline_not_a_step_time() -> None:
    assert parse_time("trong ngày", deadline=True) == (480, True)
    assert parse_time("Ngay trong ngày", deadline=True) == (480, True)
    with pytest.raises(Exception, match="is not a time"):
        parse_time("trong ngày")


@given(st.integers(0, 200), st.sampled_from([("ngày", 480), ("giờ", 60), ("phút", 1)]))
def test_n_units_are_n_times_the_unit(n: int, unit: tuple[str, int]) -> None:
    assert parse_time(f"{n:02d} {unit[0]}")[0] == n * unit[1]


# -- bad tables -------------------------------------------------------------------------------
GOOD_HEAD = "code,X.1\nname,Thủ tục\ndeadline,3d\n\n"
GOOD_ROWS = "no,name,role,time\n1,Tiếp nhận,one-stop-desk,1 giờ\n"


def _t(columns: str, *rows: str) -> str:
    """A table with the good header and these columns and rows."""
    return GOOD_HEAD + "\n".join([columns, *rows]) + "\n"


NRT = "no,name,role,time"
BAD_TABLES = [
    (_t(f"{NRT},gio", "1,A,one-stop-desk,0,x"), 5, "gio", "not a column"),
    (_t("no,name,role,thoi gian lam"), 5, "thoi gian lam", "did you mean 'time'"),
    (_t(NRT, "1,A,one-stop-desk,2 tuần"), 6, "time", "'2 tuần' is not a time"),
    (_t(NRT, "1,A,Bộ phận Một cửa,0"), 6, "role", "not a unit role"),
    (_t(NRT, "1,A,one-stop-desk,0", "1,B,one-stop-desk,0"), 7, "no", "again (also row 6)"),
    (_t(NRT, ",A,one-stop-desk,0"), 6, "no", "empty"),
    (_t(f"{NRT},kind", "1,A,one-stop-desk,0,thẩm tra"), 6, "kind", "'thẩm tra'"),
    (_t(f"{NRT},fields", "1,A,one-stop-desk,0,số GCN"), 6, "fields", "not a field name"),
    (_t(f"{NRT},id", "1,A,one-stop-desk,0,done"), 6, "id", "lienthong adds"),
    ("code,X.1\nname,T\n\n" + GOOD_ROWS, 0, "deadline", "the header has no 'deadline'"),
    ("code,X.1\nname,T\ndeadline,ba ngày\n\n" + GOOD_ROWS, 0, "deadline", "is not a time"),
    ("ma tt,X.1\n" + GOOD_HEAD + GOOD_ROWS, 1, "", "not a header key"),
    ("code,X.1,Y.2\nname,T\ndeadline,3d\n\n" + GOOD_ROWS, 1, "code", "one value"),
    (GOOD_HEAD, 0, "", "no table header row"),
    (
        _t(f"{NRT},parallel", "1,A,one-stop-desk,0,P", "2,B,tax-office,0,", "3,C,tax-office,0,P"),
        8, "parallel", "interrupted",
    ),
    (
        _t(f"{NRT},parallel", "1,A,one-stop-desk,0,P", "2,B,one-stop-desk,0,P"),
        6, "parallel", "one branch",
    ),
    (
        _t(f"{NRT},choice,condition", "1,A,one-stop-desk,0,C,x == 1", "2,B,tax-office,0,C,x == 2"),
        6, "condition", "exactly one branch without a condition",
    ),
    (
        _t(f"{NRT},choice,condition,fields", "0,Z,tax-office,0,,,x", "1,A,one-stop-desk,0,C,",
           "2,B,one-stop-desk,0,C,x = 2"),
        8, "condition", "condition-assign",
    ),
    (
        _t(f"{NRT},condition", "1,A,one-stop-desk,0,x"),
        6, "condition", "needs the step's choice group",
    ),
    (
        _t(NRT, "1,A,one-stop-desk,2 ngày", "2,B,tax-office,1 ngày 1 giờ"),
        0, "time", "row 6 2d + row 7 1d1h",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "row", "column", "words"), BAD_TABLES)
def test_a_bad_table_names_its_row_and_column(
    tmp_path: Path, text: str, row: int, column: str, words: str
) -> None:
    src = tmp_path / "steps.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.bpmn"
    result = CliRunner().invoke(main, ["procedure", "new", "--from", str(src), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not out.exists(), "nothing is written for a bad table"
    with pytest.raises(TableError) as e:
        table_bpmn(read_table(src))
    assert any(r == row and c == column for r, c, _m in e.value.problems), e.value.problems
    assert words in str(e.value)
    assert str(src) in str(e.value)


def test_every_problem_of_a_table_at_once(tmp_path: Path) -> None:
    src = tmp_path / "steps.csv"
    src.write_text(
        GOOD_HEAD + "no,name,role,time,kind\n1,A,một cửa,2 tuần,x\n,B,one-stop-desk,0,\n",
        encoding="utf-8",
    )
    with pytest.raises(TableError) as e:
        read_table(src)
    assert [(r, c) for r, c, _ in e.value.problems] == [
        (6, "role"), (6, "time"), (6, "kind"), (7, "no"),
    ]  # fmt: skip
    result = CliRunner().invoke(main, ["procedure", "new", "--from", str(src), "--out", "x.bpmn"])
    assert result.exit_code == 1
    assert result.output.count("row 6") == 3 and "4 problems, nothing written" in result.output


def test_a_toml_table_names_its_step(tmp_path: Path) -> None:
    src = tmp_path / "steps.toml"
    src.write_text(
        '[procedure]\ncode = "X"\nname = "T"\ndeadline = "1d"\n\n'
        '[[step]]\nno = "1"\nname = "A"\nrole = "one-stop-desk"\ntime = "1 giờ"\n\n'
        '[[step]]\nno = "2"\nname = "B"\nrole = "tax-office"\ntim = "1 giờ"\n',
        encoding="utf-8",
    )
    with pytest.raises(TableError, match=r"\[\[step\]\] 2, column 'tim': not a key .*'time'"):
        read_table(src)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("steps.csv", b"\xff\xfe\x00bad", "not UTF-8"),
        ("steps.xlsx", b"PK", "a .csv or a .toml file"),
        ("steps.toml", b"[procedure\n", "not TOML"),
    ],
)
def test_a_file_that_is_not_a_table(tmp_path: Path, name: str, data: bytes, words: str) -> None:
    src = tmp_path / name
    src.write_bytes(data)
    with pytest.raises(TableError, match=words):
        read_table(src)


def test_semicolons_as_a_vietnamese_spreadsheet_saves_them(tmp_path: Path) -> None:
    src = tmp_path / "steps.csv"
    src.write_text(
        "\ufeffmã TTHC;X.1\ntên thủ tục;Thủ tục\nthời hạn giải quyết;1 ngày\n\n"
        "TT;Nội dung công việc;Vai trò;Thời gian;Loại bước\n"
        "1;Tiếp nhận;one-stop-desk;0,5 ngày;tiếp nhận\n2;Trả;one-stop-desk;0;trả kết quả\n",
        encoding="utf-8",
    )
    t = read_table(src)
    assert [(r.no, r.minutes, r.kind) for r in t.rows] == [
        ("1", 240, "reception"), ("2", 0, "return"),
    ]  # fmt: skip


def test_new_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "x.bpmn"
    out.write_text("mine")
    table = ROOT / "examples" / "tables" / "dang-ky-bien-dong-chuyen-nhuong.csv"
    args = ["procedure", "new", "--from", str(table), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "--force" in result.output
    assert out.read_text() == "mine"
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert "procedure 1.013831, 5 steps in 3 lanes" in result.output
    assert "lint: no problems" in result.output
    assert out.read_bytes().startswith(b"<?xml")
