"""Moving running dossiers to another version of their procedure (``Engine.migrate``, ``lienthong
dossier migrate``): a dossier stuck on a condition that fails at run time moves to the corrected
version and finishes; what cannot be mapped is refused, naming the steps; steps keep their ids,
due instants and history; the move is audited and survives a restart.

The procedure of most tests (9.000042) has a fault the loader cannot see: a script on one branch
sets ``fee``, and a later condition reads ``fee`` on every path. A dossier that took the other
branch stops at the step before that condition: completing it raises ScriptError, every time.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lienthong import (
    DossierClosed,
    Engine,
    FixedClock,
    MigrationRefused,
    NotAllowed,
    ScriptError,
    Status,
    UnknownProcedure,
)
from lienthong.cli import main
from lienthong.testing.databases import store_for
from support import DESK, KHAI_SINH, receive_birth, run_to_end, snapshot

CODE = "9.000042"
COMMUNE = "000.01.41.H29"  # commune-civil-status: Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu
CLERK = "tran.thi.mai"  # head of the desk (the receiving unit)
DESK_OFFICER = "le.van.hung"  # a deputy of the desk
COMMUNE_HEAD = "trieu.thi.hanh"  # head of the commune's civil-status unit, which reviews
BAD = "fee > 0"
FIXED = "paid_service == True and fee > 0"


def fee_bpmn(
    condition: str = BAD,
    *,
    review: bool = True,
    review_lane: str = "commune",
    fee_gateway: bool = True,
    review_name: str = "Thẩm định hồ sơ",
) -> bytes:
    """Procedure 9.000042: reception at the desk (is the service a paid one?), a fee computed
    on the paid branch only, the commune's review, then "does a fee need collecting?" (the
    condition), the desk collecting it, and the hand-over. The keywords draw the other
    versions: without the review step, with the review in another lane, without the first
    gateway."""
    nodes = {"desk": ["start", "reception", "collect_fee", "m_collect", "hand_over", "end"]}
    nodes["commune"] = ["g_collect"]
    if fee_gateway:
        nodes["desk"][2:2] = ["g_fee", "compute_fee", "m_fee"]
    if review:
        nodes[review_lane].append("review")
    after = "review" if review else "g_collect"
    fee_part = (
        f"""
    <bpmn:sequenceFlow id="f2" sourceRef="reception" targetRef="g_fee"/>
    <bpmn:exclusiveGateway id="g_fee" name="Dịch vụ có thu phí?" default="f_free"/>
    <bpmn:sequenceFlow id="f_paid" sourceRef="g_fee" targetRef="compute_fee">
      <bpmn:conditionExpression>paid_service == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_free" sourceRef="g_fee" targetRef="m_fee"/>
    <bpmn:scriptTask id="compute_fee" name="Tính phí"><bpmn:script>fee = 50000</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="compute_fee" targetRef="m_fee"/>
    <bpmn:exclusiveGateway id="m_fee"/>
    <bpmn:sequenceFlow id="f4" sourceRef="m_fee" targetRef="{after}"/>"""
        if fee_gateway
        else f"""
    <bpmn:sequenceFlow id="f2" sourceRef="reception" targetRef="{after}"/>"""
    )
    review_part = (
        f"""
    <bpmn:userTask id="review" name="{review_name}"><bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="lienthong:share" value="1d"/>
        <camunda:property name="lienthong:required-fields" value="approved"/>
      </camunda:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f5" sourceRef="review" targetRef="g_collect"/>"""
        if review
        else ""
    )

    def lane(lane_id: str, name: str, role: str) -> str:
        refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes[lane_id])
        return f"""
      <bpmn:lane id="{lane_id}" name="{name}"><bpmn:extensionElements><camunda:properties>
          <camunda:property name="lienthong:unit-role" value="{role}"/>
        </camunda:properties></bpmn:extensionElements>{refs}</bpmn:lane>"""

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="t">
  <bpmn:process id="fees" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="lienthong:procedure-code" value="{CODE}"/>
      <camunda:property name="lienthong:procedure-name" value="Thử chuyển phiên bản"/>
      <camunda:property name="lienthong:deadline" value="3d"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">{lane("desk", "Một cửa", "one-stop-desk")}{
        lane("commune", "Tư pháp xã", "commune-civil-status")
    }
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="reception"/>
    <bpmn:userTask id="reception" name="Tiếp nhận hồ sơ"><bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="lienthong:step-kind" value="reception"/>
        <camunda:property name="lienthong:share" value="4h"/>
        <camunda:property name="lienthong:required-fields" value="paid_service"/>
      </camunda:properties></bpmn:extensionElements></bpmn:userTask>{fee_part}{review_part}
    <bpmn:exclusiveGateway id="g_collect" name="Cần thu phí?" default="f_nocollect"/>
    <bpmn:sequenceFlow id="f_collect" sourceRef="g_collect" targetRef="collect_fee">
      <bpmn:conditionExpression>{escape(condition, quote=False)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_nocollect" sourceRef="g_collect" targetRef="m_collect"/>
    <bpmn:userTask id="collect_fee" name="Thu phí"><bpmn:extensionElements><camunda:properties>
        <camunda:property name="lienthong:share" value="2h"/>
      </camunda:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f6" sourceRef="collect_fee" targetRef="m_collect"/>
    <bpmn:exclusiveGateway id="m_collect"/>
    <bpmn:sequenceFlow id="f7" sourceRef="m_collect" targetRef="hand_over"/>
    <bpmn:userTask id="hand_over" name="Trả kết quả"><bpmn:extensionElements>
      <camunda:properties><camunda:property name="lienthong:step-kind" value="return"/>
      </camunda:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f8" sourceRef="hand_over" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "migrate.db"


def stuck_dossier(engine: Engine, clock: FixedClock) -> str:
    """Received at the desk as a free service, reception done, the review open: completing the
    review fails on the condition that reads ``fee``."""
    d = engine.receive(CODE, applicant={"name": "Lê Thị Hoa"}, receiving_unit=DESK, officer=CLERK)
    [reception] = engine.open_steps(dossier=d.code)
    clock.advance(hours=1)
    engine.complete(d.code, reception.id, CLERK, {"paid_service": False})
    [review] = engine.open_steps(dossier=d.code)
    assert review.spec_id == "review"
    clock.advance(hours=1)
    with pytest.raises(ScriptError, match="name 'fee' is not defined"):
        engine.complete(d.code, review.id, COMMUNE_HEAD, {"approved": True})
    return d.code


@pytest.fixture
def stuck(
    make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> tuple[Engine, str, str]:
    """An engine with version 1 of 9.000042 and a dossier stuck in it; the version's hash."""
    engine = make_engine(db)
    v1 = engine.load_procedure(fee_bpmn(), name="v1.bpmn").version
    return engine, stuck_dossier(engine, clock), v1


def test_a_dossier_stuck_on_a_bad_condition_moves_to_the_corrected_version_and_finishes(
    stuck: tuple[Engine, str, str], make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> None:
    engine, code, v1 = stuck
    steps_before = engine.steps(code)
    audit_before = engine.audit_rows(code)
    v2 = engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn").version
    assert v2 != v1 and engine.dossier(code).procedure_version == v1  # loading moved nothing
    clock.advance(minutes=30)

    d = engine.migrate(code, v2, officer=COMMUNE_HEAD)

    assert d.procedure_version == v2 and d.status == Status.PROCESSING
    # The steps as they were: ids, task ids, due instants, claims, history.
    assert engine.steps(code) == steps_before
    rows = engine.audit_rows(code)
    assert rows[: len(audit_before)] == audit_before
    [moved] = rows[len(audit_before) :]
    assert (moved["event"], moved["from_officer"], moved["from_unit"]) == (
        "migrated",
        COMMUNE_HEAD,
        COMMUNE,
    )
    data = json.loads(moved["data"])
    assert (data["from_version"], data["to_version"]) == (v1, v2)
    assert (data["from_file"], data["to_file"]) == ("v1.bpmn", "v2.bpmn")
    assert data["changed"] == ["g_collect"] and data["opened"] == []
    assert "v1.bpmn" in moved["note"] and "v2.bpmn" in moved["note"]
    engine.close()

    # A new engine on the file goes on with the dossier, on the new version.
    again = make_engine(db)
    assert again.dossier(code).procedure_version == v2
    [review] = again.open_steps(dossier=code)
    assert review == steps_before[-1]
    clock.advance(hours=1)
    again.complete(code, review.id, COMMUNE_HEAD, {"approved": True})
    [hand_over] = again.open_steps(dossier=code)
    assert hand_over.spec_id == "hand_over"  # free: no fee to collect
    clock.advance(hours=1)
    done = again.return_result(code, CLERK)
    assert done.status == Status.RETURNED
    assert again.verify_audit().ok


def test_the_corrected_data_of_open_steps_survives_the_move(
    stuck: tuple[Engine, str, str], make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> None:
    """SpiffWorkflow's migration gives an open task its parent's data again; what
    ``correct_data`` put there must stay, or the condition would read the old data."""
    engine, code, _ = stuck
    engine.correct_data(
        code, officer=CLERK, data={"paid_service": True, "fee": 70000}, reason="dịch vụ có phí"
    )
    engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn")
    engine.migrate(code, officer=CLERK)  # the current version
    engine.close()
    again = make_engine(db)
    [review] = again.open_steps(dossier=code)
    again.complete(code, review.id, COMMUNE_HEAD, {"approved": True})
    [collect] = again.open_steps(dossier=code)
    assert collect.spec_id == "collect_fee"  # the corrected paid_service and fee were read


@pytest.mark.parametrize(
    ("version", "named"),
    [
        (
            {"review": False},
            "user task 'Thẩm định hồ sơ' (review), open: the new version has no such element",
        ),
        (
            {"fee_gateway": False},
            "exclusive gateway 'Dịch vụ có thu phí?' (g_fee), done: the new version has no such",
        ),
        (
            {"review_lane": "desk"},
            "open step 2 'Thẩm định hồ sơ' (review): the new version changes its lane role "
            "commune-civil-status -> one-stop-desk",
        ),
    ],
    ids=["open-step-removed", "passed-gateway-removed", "open-step-in-another-lane"],
)
def test_a_step_with_no_counterpart_refuses_the_move_and_is_named(
    stuck: tuple[Engine, str, str], version: dict[str, Any], named: str
) -> None:
    engine, code, v1 = stuck
    target = engine.load_procedure(fee_bpmn(FIXED, **version), name="v3.bpmn")
    before = snapshot(engine)
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate(code, target.version, officer=COMMUNE_HEAD)
    message = str(refused.value)
    assert named in message, message
    assert f"dossier {code} cannot move to version {target.version[:12]} (v3.bpmn)" in message
    assert snapshot(engine) == before
    assert engine.dossier(code).procedure_version == v1


def test_a_finished_step_with_no_counterpart_is_named(engine: Engine, clock: FixedClock) -> None:
    """The liên thông birth procedure past its split, in a version without the commune's
    birth registration, which the dossier did."""
    d = receive_birth(engine)
    first = next(s for s in engine.open_steps(dossier=d.code))
    engine.complete(d.code, first.id, CLERK)
    [birth] = engine.open_steps(dossier=d.code)
    engine.complete(d.code, birth.id, COMMUNE_HEAD, {"birth_certificate_no": "KS-01"})
    source = KHAI_SINH.read_bytes()
    without = source.replace(
        b'sourceRef="reception" targetRef="register_birth"',
        b'sourceRef="reception" targetRef="forward"',
    )
    start = without.index(b'<bpmn:userTask id="register_birth"')
    end = without.index(b"</bpmn:userTask>", start) + len(b"</bpmn:userTask>")
    without = without[:start] + without[end:]
    without = without.replace(b"<bpmn:flowNodeRef>register_birth</bpmn:flowNodeRef>", b"")
    without = _drop_flow_and_shape(without, "flow_register_birth_forward", "register_birth")
    target = engine.load_procedure(without, name="no-birth.bpmn")
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate(d.code, target.version, officer=CLERK)
    assert "user task 'Đăng ký khai sinh' (register_birth), done" in str(refused.value)


def _drop_flow_and_shape(bpmn: bytes, flow: str, task: str) -> bytes:
    """Remove a sequence flow, its references and the diagram's shapes of it and of a task."""
    import re

    text = bpmn.decode()
    text = re.sub(rf'\s*<bpmn:sequenceFlow id="{flow}"[^>]*/>', "", text)
    text = re.sub(rf"\s*<bpmn:(incoming|outgoing)>{flow}</bpmn:\1>", "", text)
    text = text.replace(f"<bpmn:incoming>{flow}</bpmn:incoming>", "")
    for element in (flow, task):
        text = re.sub(
            rf'\s*<bpmndi:BPMN(Shape|Edge) id="[^"]*" bpmnElement="{element}".*?</bpmndi:BPMN\1>',
            "",
            text,
            flags=re.S,
        )
    return text.encode()


def test_a_split_whose_branches_changed_is_refused(engine: Engine, clock: FixedClock) -> None:
    """A parallel split the dossier passed, given a third branch in the new version: the join
    would wait for ever for a branch the dossier never started."""
    d = receive_birth(engine)
    run_to_end_until(engine, d.code, "review_card")
    source = KHAI_SINH.read_bytes()
    third = source.replace(
        b"<bpmn:flowNodeRef>register_birth</bpmn:flowNodeRef>",
        b"<bpmn:flowNodeRef>register_birth</bpmn:flowNodeRef>"
        b"<bpmn:flowNodeRef>notify</bpmn:flowNodeRef>",
    ).replace(
        b'<bpmn:parallelGateway id="join">',
        '<bpmn:userTask id="notify" name="Thông báo"/>'
        '<bpmn:sequenceFlow id="f_n1" sourceRef="split" targetRef="notify"/>'
        '<bpmn:sequenceFlow id="f_n2" sourceRef="notify" targetRef="join"/>'
        '<bpmn:parallelGateway id="join">'.encode(),
    )
    target = engine.load_procedure(third, name="three-branches.bpmn")
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate(d.code, target.version, officer=CLERK)
    assert "parallel gateway split, done: it split the dossier into branches" in str(refused.value)


def run_to_end_until(engine: Engine, code: str, spec_id: str) -> None:
    """Complete open user steps, first opened first, until the one of ``spec_id`` is open."""
    data = {"birth_certificate_no": "KS-01", "residence_registration_no": "TT-01"}
    while True:
        open_user = [s for s in engine.open_steps(dossier=code) if s.kind == "user"]
        if any(s.spec_id == spec_id for s in open_user):
            return
        step = open_user[0]
        engine.complete(code, step.id, engine.org.members(step.unit)[0].id, data)


@pytest.mark.parametrize("change", ["step-name", "element-id"])
def test_open_parallel_steps_keep_their_rows_and_follow_a_renamed_element(
    engine: Engine, clock: FixedClock, make_engine: Callable[..., Engine], change: str
) -> None:
    """Both branches of the birth procedure open (residence and health-insurance card); the
    new version renames the card step, or gives it another BPMN id (SpiffWorkflow aligns it by
    its place in the flow): the step rows keep their ids, tasks and due instants, the renamed
    one takes the new name or id, and the dossier finishes."""
    d = receive_birth(engine)
    run_to_end_until(engine, d.code, "review_card")
    before = {s.id: s for s in engine.open_steps(dossier=d.code)}
    assert {s.spec_id for s in before.values()} == {"register_residence", "review_card"}
    source = KHAI_SINH.read_bytes()
    if change == "step-name":
        new = source.replace("Xét duyệt cấp thẻ BHYT".encode(), "Xét duyệt thẻ BHYT".encode())
    else:
        new = source.replace(b"review_card", b"review_health_card")
    target = engine.load_procedure(new, name="v2.bpmn")
    engine.migrate(d.code, target.version[:10], officer=CLERK)  # a prefix names it
    after = {s.id: s for s in engine.open_steps(dossier=d.code)}
    assert after.keys() == before.keys()
    for step_id, step in after.items():
        old = before[step_id]
        assert (step.task_id, step.due_at, step.opened_at, step.unit) == (
            old.task_id,
            old.due_at,
            old.opened_at,
            old.unit,
        )
    card = next(s for s in after.values() if s.unit == "000.01.70.H29")
    if change == "step-name":
        assert (card.spec_id, card.name) == ("review_card", "Xét duyệt thẻ BHYT")
    else:
        assert (card.spec_id, card.name) == ("review_health_card", "Xét duyệt cấp thẻ BHYT")
    run_to_end(engine, d.code, clock)
    assert engine.dossier(d.code).status == Status.RETURNED
    assert engine.verify_audit().ok


def test_the_version_the_dossier_runs_is_refused(stuck: tuple[Engine, str, str]) -> None:
    engine, code, v1 = stuck
    before = snapshot(engine)
    with pytest.raises(MigrationRefused, match="load the corrected BPMN file first"):
        engine.migrate(code, officer=CLERK)  # the current version is still v1
    with pytest.raises(MigrationRefused, match=f"already runs version {v1[:12]} \\(v1.bpmn\\)"):
        engine.migrate(code, v1, officer=CLERK)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("version", "error", "says"),
    [
        ("0" * 64, UnknownProcedure, "no version '0000"),
        ("deadbeef", UnknownProcedure, "stored: "),
        ("abc", UnknownProcedure, "its first 8 or more digits"),
    ],
)
def test_an_unknown_version_is_refused(
    stuck: tuple[Engine, str, str], version: str, error: type[Exception], says: str
) -> None:
    engine, code, v1 = stuck
    before = snapshot(engine)
    with pytest.raises(error) as refused:
        engine.migrate(code, version, officer=CLERK)
    assert says in str(refused.value)
    assert f"{v1[:12]} (v1.bpmn)" in str(refused.value)
    assert snapshot(engine) == before


def test_a_version_of_another_procedure_is_refused(
    stuck: tuple[Engine, str, str], clock: FixedClock
) -> None:
    engine, code, _ = stuck
    birth = engine.load_procedure(KHAI_SINH)
    with pytest.raises(MigrationRefused, match=f"is of procedure {birth.code}, not of"):
        engine.migrate(code, birth.version, officer=CLERK)


def test_a_closed_dossier_is_refused(stuck: tuple[Engine, str, str]) -> None:
    engine, code, _ = stuck
    engine.withdraw(code, reason="người nộp rút hồ sơ", officer=CLERK)
    engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn")
    before = snapshot(engine)
    with pytest.raises(DossierClosed, match=f"dossier {code} is closed"):
        engine.migrate(code, officer=CLERK)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("officer", "allowed"),
    [
        (CLERK, True),  # head of the receiving desk
        (DESK_OFFICER, True),  # its deputy
        (COMMUNE_HEAD, True),  # head of the unit with the open step
        ("luong.van.tien", False),  # an officer of the commune with no lead role
        ("ha.van.long", False),  # head of the commune above the open step's unit
        ("vi.van.manh", False),  # head of a unit with no work on the dossier
        ("nobody", False),
    ],
)
def test_who_may_move_a_dossier(
    stuck: tuple[Engine, str, str], officer: str, allowed: bool
) -> None:
    engine, code, _ = stuck
    v2 = engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn").version
    if allowed:
        assert engine.migrate(code, officer=officer).procedure_version == v2
        return
    before = snapshot(engine)
    with pytest.raises(NotAllowed) as refused:
        engine.migrate(code, officer=officer)
    message = str(refused.value)
    if officer == "nobody":
        assert message == "unknown officer 'nobody'"
    else:
        assert "only the head or a deputy of the receiving unit or of a unit with an open step" in (
            message
        )
        assert f"{DESK} (" in message and f"{COMMUNE} (" in message and COMMUNE_HEAD in message
    assert snapshot(engine) == before


def test_an_older_version_loaded_again_stays_current_after_a_restart(
    make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> None:
    engine = make_engine(db)
    v1 = engine.load_procedure(fee_bpmn(), name="v1.bpmn").version
    clock.advance(minutes=5)
    engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn")
    clock.advance(minutes=5)
    engine.load_procedure(fee_bpmn(), name="v1.bpmn")  # the province goes back to version 1
    assert engine.procedure(CODE).version == v1
    before = snapshot(engine)
    engine.load_procedure(fee_bpmn(), name="v1.bpmn")  # already current: nothing changes
    assert snapshot(engine) == before
    engine.close()
    assert make_engine(db).procedure(CODE).version == v1


@pytest.mark.sqlite_only  # rewrites an old SQLite file
def test_a_store_from_before_migration_009_keeps_its_current_versions(
    make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> None:
    """The versions an older store holds are ordered as they were loaded (``loaded_at``)."""
    engine = make_engine(db)
    engine.load_procedure(fee_bpmn(), name="v1.bpmn")
    clock.advance(minutes=5)
    v2 = engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn").version
    engine.close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX procedures_code_seq")
        conn.execute("ALTER TABLE procedures DROP COLUMN seq")
        conn.execute("DELETE FROM _migrations WHERE name = '009_procedure_seq'")
    conn.close()
    again = make_engine(db)
    assert again.procedure(CODE).version == v2
    seqs = [r[0] for r in again.db.execute("SELECT seq FROM procedures ORDER BY loaded_at")]
    assert seqs == [1, 2]


def test_the_cli_moves_a_dossier_and_names_what_refuses_it(
    stuck: tuple[Engine, str, str], db: Path
) -> None:
    engine, code, v1 = stuck
    no_review = engine.load_procedure(fee_bpmn(FIXED, review=False), name="v3.bpmn").version
    v2 = engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn").version
    engine.close()
    run = CliRunner().invoke

    refused = run(
        main,
        ["dossier", "migrate", code, "--to", no_review[:8], "--officer", CLERK,
         "--db", store_for(db)],
    )
    assert refused.exit_code == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"Error: dossier {code} cannot move") and "'Thẩm định hồ sơ'" in line

    both = run(
        main,
        ["dossier", "migrate", code, "--to", v2, "--latest", "--officer", CLERK,
         "--db", store_for(db)],
    )
    assert both.exit_code == 2 and "exactly one of --to VERSION or --latest" in both.stderr

    moved = run(main, ["dossier", "migrate", code, "--latest", "--officer", CLERK,
                       "--db", store_for(db)])
    assert moved.exit_code == 0, moved.output
    assert f"moved {code} from version {v1[:12]} (v1.bpmn) to {v2[:12]} (v2.bpmn)" in moved.output
    assert "open step 2  Thẩm định hồ sơ (review)" in moved.output

    again = run(main, ["dossier", "migrate", code, "--latest", "--officer", CLERK,
                       "--db", store_for(db)])
    assert again.exit_code == 1 and "already runs version" in again.stderr


def test_the_designers_page_console_example_is_what_the_command_prints(
    make_engine: Callable[..., Engine], clock: FixedClock, db: Path
) -> None:
    """docs/designers.md shows the moves of a stuck dossier of 9.000042: the same files, the
    same versions, the same lines."""
    page = (Path(__file__).parents[1] / "docs" / "designers.md").read_text(encoding="utf-8")
    section = page[page.index("## Moving running dossiers") :]
    block = re.search(r"```console\n(\$ lienthong dossier migrate.*?)```", section, re.S)
    assert block is not None
    engine = make_engine(db, plugins=[])
    engine.load_procedure(fee_bpmn(), name="v1.bpmn")
    stuck_dossier(engine, clock)
    engine.load_procedure(fee_bpmn(FIXED, review=False), name="v3.bpmn")
    engine.load_procedure(fee_bpmn(FIXED), name="v2.bpmn")
    engine.close()
    shown = []
    for command in re.findall(r"^\$ lienthong (.*)$", block.group(1), re.M):
        result = CliRunner().invoke(main, [*command.split(), "--db", store_for(db)])
        shown.append(f"$ lienthong {command}\n{result.output}")
    assert "".join(shown) == block.group(1)
