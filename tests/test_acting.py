"""Delegations (ủy quyền) and escalations in what officers see and in the audit
(docs/permissions.md): a delegate's queue holds the delegated unit's steps while the delegation is
in force at the Engine's clock, and the audit row of an act done through a delegation or an
escalation says so, as the control sheet does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from lienthong import Delegation, Engine, FixedClock, NotAllowed, Organisation
from lienthong.engine import permissions
from support import COMMUNE, DESK, PROCESSES, receive_birth, vn

DESK_HEAD, DESK_A = "tran.thi.mai", "nguyen.thu.ha"
COMMUNE_HEAD, COMMUNE_OFFICER = "trieu.thi.hanh", "luong.van.tien"
COMMUNE_UBND_HEAD = "ha.van.long"
POLICE_OFFICER = "nong.van.binh"
BIRTH = {"birth_certificate_no": "KS-01"}

WEEK = Delegation(
    from_officer=DESK_HEAD,
    to_officer=COMMUNE_OFFICER,
    unit=DESK,
    valid_from=vn(2025, 3, 3, 8, 0),
    valid_to=vn(2025, 3, 8, 0, 0),
    reference="Quyết định 12/QĐ-TTPVHCC",
)
#: The commune section's head lends its work to a police officer on the afternoon of 4/3.
AFTERNOON = Delegation(
    from_officer=COMMUNE_HEAD,
    to_officer=POLICE_OFFICER,
    unit=COMMUNE,
    valid_from=vn(2025, 3, 4, 13, 0),
    valid_to=vn(2025, 3, 4, 17, 0),
)


@pytest.fixture
def delegating(make_engine: Callable[..., Engine], org: Organisation) -> Engine:
    e = make_engine(
        org=Organisation.build(org.units.values(), org.officers.values(), [WEEK, AFTERNOON])
    )
    e.load_procedures(PROCESSES)
    return e


def queue(engine: Engine, officer: str) -> list[int]:
    return [s.id for s in engine.open_steps(officer=officer)]


def data_of(row: dict[str, Any]) -> Any:
    return json.loads(row["data"]) if row["data"] else None


def rows(engine: Engine, code: str, event: str) -> list[dict[str, Any]]:
    return [r for r in engine.audit_rows(code) if r["event"] == event]


def delegated_by_week(officer: str, step: int | None) -> dict[str, Any]:
    out = {
        "acting": "delegation",
        "officer": officer,
        "for": DESK_HEAD,
        "unit": DESK,
        "reference": "Quyết định 12/QĐ-TTPVHCC",
        "valid_from": "2025-03-03T08:00:00+07:00",
        "valid_to": "2025-03-08T00:00:00+07:00",
    }
    return out if step is None else {**out, "step": step}


# -- the queue -----------------------------------------------------------------------------------
def test_a_delegates_queue_holds_the_delegated_units_steps_while_in_force(
    delegating: Engine, clock: FixedClock
) -> None:
    clock.set(vn(2025, 3, 3, 7, 0))
    code = receive_birth(delegating).code
    [reception] = delegating.open_steps(dossier=code)
    assert reception.unit == DESK
    # Before the week, at its first instant, during it, at its end (excluded) and after it.
    for when, listed in [
        (vn(2025, 3, 3, 7, 59), False),
        (vn(2025, 3, 3, 8, 0), True),
        (vn(2025, 3, 7, 23, 59), True),
        (vn(2025, 3, 8, 0, 0), False),
        (vn(2025, 3, 10, 9, 0), False),
    ]:
        clock.set(when)
        assert (reception.id in queue(delegating, COMMUNE_OFFICER)) is listed, when
        assert reception.id in queue(delegating, DESK_A)  # the unit's own, always
    # The delegation is to one officer: the commune's other officers do not see the desk's work.
    clock.set(vn(2025, 3, 4, 9, 0))
    assert reception.id not in queue(delegating, COMMUNE_HEAD)


def test_a_step_claimed_by_another_leaves_the_delegates_queue(
    delegating: Engine, clock: FixedClock
) -> None:
    code = receive_birth(delegating).code
    other = receive_birth(delegating, "Trần Văn Bình").code
    [mine] = delegating.open_steps(dossier=code)
    [theirs] = delegating.open_steps(dossier=other)
    assert set(queue(delegating, COMMUNE_OFFICER)) >= {mine.id, theirs.id}
    delegating.claim(code, mine.id, COMMUNE_OFFICER)
    delegating.claim(other, theirs.id, DESK_A)
    listed = queue(delegating, COMMUNE_OFFICER)
    assert mine.id in listed and theirs.id not in listed
    # After the week, what the delegate claimed stays in their queue (assigned to them), though
    # they may no longer complete it: the desk's head takes it over or a new delegation is made.
    clock.set(vn(2025, 3, 10, 9, 0))
    assert queue(delegating, COMMUNE_OFFICER) == [mine.id]
    with pytest.raises(NotAllowed, match="is not in force"):
        delegating.complete(code, mine.id, COMMUNE_OFFICER)


def test_a_head_listed_in_another_unit_sees_the_unit_they_head(
    make_engine: Callable[..., Engine], org: Organisation
) -> None:
    # The desk's head is listed as an officer of the province's People's Committee here.
    officers = [
        o if o.id != DESK_HEAD else type(o)(o.id, o.name, "000.00.00.H29", o.title)
        for o in org.officers.values()
    ]
    e = make_engine(org=Organisation.build(org.units.values(), officers))
    e.load_procedures(PROCESSES)
    code = receive_birth(e).code
    [reception] = e.open_steps(dossier=code)
    assert reception.id in queue(e, DESK_HEAD)
    e.claim(code, reception.id, DESK_HEAD)  # and may take it: she leads the desk


def test_the_queue_is_what_the_officer_may_take(delegating: Engine, clock: FixedClock) -> None:
    """For every officer and each of the instants around the delegations' bounds, the unclaimed
    open steps in their queue are exactly those the permission rules let them claim
    (``permissions.may_work_step``). The domain is small: every case is tried."""
    clock.set(vn(2025, 3, 3, 7, 30))
    codes = [receive_birth(delegating, f"Người {i}").code for i in range(3)]
    for code in codes[:2]:  # two at the commune, one still at the desk
        [reception] = delegating.open_steps(dossier=code)
        clock.advance(hours=1)
        delegating.complete(code, reception.id, DESK_A)
    org = delegating.org
    instants = [vn(2025, 3, d, h, m) for d in (3, 4, 7, 8) for h in (7, 8, 13, 16) for m in (0, 59)]
    seen = 0
    for officer, at in itertools.product(sorted(org.officers), instants):
        clock.set(at)
        listed = {s.id for s in delegating.open_steps(officer=officer) if s.assignee is None}
        may = set()
        for code in codes:
            for s in delegating.open_steps(dossier=code):
                try:
                    permissions.may_work_step(
                        org,
                        officer,
                        action="claim",
                        step=str(s.id),
                        unit=s.unit,
                        assignee=s.assignee,
                        escalated_to=s.escalated_to,
                        at=at,
                    )
                except NotAllowed:
                    continue
                may.add(s.id)
        assert listed == may, (officer, at)
        seen += bool(listed)
    assert seen > 0


# -- the audit -----------------------------------------------------------------------------------
def test_an_officer_of_the_unit_records_no_capacity(delegating: Engine) -> None:
    d = receive_birth(delegating, officer=DESK_A)
    [reception] = delegating.open_steps(dossier=d.code)
    delegating.claim(d.code, reception.id, DESK_A)
    delegating.complete(d.code, reception.id, DESK_A)
    assert [r["data"] for r in delegating.audit_rows(d.code)] == [None] * 3  # received ... handoff


def test_a_delegate_is_recorded_as_acting_through_the_delegation(delegating: Engine) -> None:
    d = receive_birth(delegating, officer=COMMUNE_OFFICER)
    [received] = rows(delegating, d.code, "received")
    assert data_of(received) == delegated_by_week(COMMUNE_OFFICER, None)
    [reception] = delegating.open_steps(dossier=d.code)
    delegating.claim(d.code, reception.id, COMMUNE_OFFICER)
    delegating.complete(d.code, reception.id, COMMUNE_OFFICER)
    [claimed] = rows(delegating, d.code, "claimed")
    [handoff] = rows(delegating, d.code, "handoff")
    assert claimed["to_officer"] == handoff["from_officer"] == COMMUNE_OFFICER
    assert data_of(claimed) == data_of(handoff) == delegated_by_week(COMMUNE_OFFICER, reception.id)
    assert delegating.verify_audit().ok


def test_a_delegates_refusal_and_withdrawal_are_recorded(delegating: Engine) -> None:
    d = receive_birth(delegating)
    [reception] = delegating.open_steps(dossier=d.code)
    delegating.complete(
        d.code, reception.id, COMMUNE_OFFICER, {"accepted": False, "reason": "thiếu giấy tờ"}
    )
    [refused] = rows(delegating, d.code, "refused")
    assert data_of(refused) == delegated_by_week(COMMUNE_OFFICER, reception.id)
    d2 = receive_birth(delegating)
    delegating.withdraw(d2.code, reason="Công dân xin rút hồ sơ", officer=COMMUNE_OFFICER)
    [withdrawn] = rows(delegating, d2.code, "withdrawn")
    assert data_of(withdrawn) == delegated_by_week(COMMUNE_OFFICER, None)
    d3 = receive_birth(delegating)
    delegating.withdraw(d3.code, reason="Công dân xin rút hồ sơ", officer=DESK_A)
    assert rows(delegating, d3.code, "withdrawn")[0]["data"] is None


def test_a_time_bounded_delegation_is_recorded_only_while_in_force(
    delegating: Engine, clock: FixedClock
) -> None:
    d = receive_birth(delegating)
    [reception] = delegating.open_steps(dossier=d.code)
    delegating.complete(d.code, reception.id, DESK_A)
    [birth] = delegating.open_steps(dossier=d.code)
    clock.set(vn(2025, 3, 4, 12, 59))
    assert birth.id not in queue(delegating, POLICE_OFFICER)
    with pytest.raises(NotAllowed, match="is not in force at 2025-03-04T12:59:00"):
        delegating.claim(d.code, birth.id, POLICE_OFFICER)
    clock.set(vn(2025, 3, 4, 13, 0))
    assert birth.id in queue(delegating, POLICE_OFFICER)
    delegating.complete(d.code, birth.id, POLICE_OFFICER, BIRTH)
    by_desk = [r for r in rows(delegating, d.code, "handoff") if r["from_officer"] == DESK_A]
    assert [r["data"] for r in by_desk] == [None]
    handoffs = [r for r in rows(delegating, d.code, "handoff") if r["from_unit"] == COMMUNE]
    assert handoffs and all(r["from_officer"] == POLICE_OFFICER for r in handoffs)
    assert {json.dumps(data_of(r), sort_keys=True) for r in handoffs} == {
        json.dumps(
            {
                "acting": "delegation",
                "officer": POLICE_OFFICER,
                "for": COMMUNE_HEAD,
                "unit": COMMUNE,
                "reference": "",
                "valid_from": "2025-03-04T13:00:00+07:00",
                "valid_to": "2025-03-04T17:00:00+07:00",
                "step": birth.id,
            },
            sort_keys=True,
        )
    }


def escalate(engine: Engine, code: str, step_id: int, clock: FixedClock, level: int) -> None:
    for _ in range(level):
        at = engine.step(code, step_id).next_escalation_at
        assert at is not None
        engine.tick(at)
        clock.set(at)
    assert engine.step(code, step_id).escalation_level == level


def at_commune(engine: Engine) -> tuple[str, int]:
    d = receive_birth(engine)
    [reception] = engine.open_steps(dossier=d.code)
    engine.complete(d.code, reception.id, DESK_A)
    [birth] = engine.open_steps(dossier=d.code)
    return d.code, birth.id


def test_a_superior_through_an_escalation_is_recorded_with_its_level(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = at_commune(engine)
    escalate(engine, code, birth, clock, 2)  # to the head of the commune People's Committee
    assert birth in queue(engine, COMMUNE_UBND_HEAD)
    engine.claim(code, birth, COMMUNE_UBND_HEAD)
    engine.complete(code, birth, COMMUNE_UBND_HEAD, BIRTH)
    expected = {"acting": "escalation", "officer": COMMUNE_UBND_HEAD, "level": 2, "step": birth}
    [claimed] = rows(engine, code, "claimed")
    assert data_of(claimed) == expected
    given = [r for r in rows(engine, code, "handoff") if r["from_officer"] == COMMUNE_UBND_HEAD]
    assert given and all(data_of(r) == expected for r in given)
    assert engine.verify_audit().ok


def test_the_units_own_head_records_the_escalation_only_over_a_claim(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth = at_commune(engine)
    escalate(engine, code, birth, clock, 1)  # to the section's own head
    engine.complete(code, birth, COMMUNE_HEAD, BIRTH)  # nobody held it: she acts as its head
    assert all(r["data"] is None for r in rows(engine, code, "handoff"))
    code2, birth2 = at_commune(engine)
    engine.claim(code2, birth2, COMMUNE_OFFICER)
    escalate(engine, code2, birth2, clock, 1)
    engine.complete(code2, birth2, COMMUNE_HEAD, BIRTH)  # over her officer's claim
    given = [r for r in rows(engine, code2, "handoff") if r["from_officer"] == COMMUNE_HEAD]
    expected = {"acting": "escalation", "officer": COMMUNE_HEAD, "level": 1, "step": birth2}
    assert given and all(data_of(r) == expected for r in given)


def test_the_control_sheet_shows_the_capacity(engine: Engine, clock: FixedClock) -> None:
    code, birth = at_commune(engine)
    escalate(engine, code, birth, clock, 2)
    engine.complete(code, birth, COMMUNE_UBND_HEAD, BIRTH)
    sheet = engine.control_sheet(code)
    into = [r for r in sheet.rows if r.receiver_officer == "Hà Văn Long"]
    out = [r for r in sheet.rows if r.giver_officer == "Hà Văn Long"]
    assert into and out
    assert {r.receiver_acting for r in into} == {"được chuyển lên cấp 2"}
    assert {r.giver_acting for r in out} == {"được chuyển lên cấp 2"}
    assert all(r.giver_acting == "" for r in sheet.rows if r not in out)
    assert "Hà Văn Long (được chuyển lên cấp 2)" in sheet.render()


def test_the_control_sheet_shows_the_delegation(delegating: Engine) -> None:
    d = receive_birth(delegating, officer=COMMUNE_OFFICER)
    [reception] = delegating.open_steps(dossier=d.code)
    delegating.complete(d.code, reception.id, COMMUNE_OFFICER)
    sheet = delegating.control_sheet(d.code)
    label = "theo ủy quyền của Trần Thị Mai, Quyết định 12/QĐ-TTPVHCC"
    received, handoff = sheet.rows[:2]
    assert (received.receiver_officer, received.receiver_acting) == ("Lương Văn Tiến", label)
    assert (handoff.giver_officer, handoff.giver_acting) == ("Lương Văn Tiến", label)
    assert handoff.receiver_acting == ""
    assert f"Người giao: Lương Văn Tiến ({label})" in sheet.render()


# -- the legal-time commands ---------------------------------------------------------------------
AFTERNOON_DATA = {
    "acting": "delegation",
    "officer": POLICE_OFFICER,
    "for": COMMUNE_HEAD,
    "unit": COMMUNE,
    "reference": "",
    "valid_from": "2025-03-04T13:00:00+07:00",
    "valid_to": "2025-03-04T17:00:00+07:00",
}


def test_a_supplement_asked_and_received_through_delegations_records_them(
    delegating: Engine, clock: FixedClock
) -> None:
    code, _ = at_commune(delegating)
    clock.set(vn(2025, 3, 4, 14, 0))  # the police officer holds the commune's work this afternoon
    delegating.request_supplement(
        code, officer=POLICE_OFFICER, missing=["giay_chung_sinh"], reason="Bản chụp không rõ"
    )
    [asked] = rows(delegating, code, "supplement_requested")
    assert asked["from_officer"] == POLICE_OFFICER
    assert data_of(asked) == {
        **AFTERNOON_DATA,
        "missing": ["giay_chung_sinh"],
        "reason": "Bản chụp không rõ",
        "requested_at": "2025-03-04T14:00:00+07:00",
    }
    clock.set(vn(2025, 3, 5, 9, 0))
    delegating.receive_supplement(code, officer=COMMUNE_OFFICER, documents=["giay_chung_sinh"])
    [got] = rows(delegating, code, "supplement_received")
    assert got["to_officer"] == COMMUNE_OFFICER
    assert data_of(got) == {
        "documents": ["giay_chung_sinh"],
        **delegated_by_week(COMMUNE_OFFICER, None),
    }
    sheet = delegating.control_sheet(code)
    by_police = [r for r in sheet.rows if r.giver_officer == "Nông Văn Bình"]
    assert [r.giver_acting for r in by_police] == ["theo ủy quyền của Triệu Thị Hạnh"]
    taken = [r for r in sheet.rows if r.receiver_officer == "Lương Văn Tiến"]
    assert [r.receiver_acting for r in taken] == [
        "theo ủy quyền của Trần Thị Mai, Quyết định 12/QĐ-TTPVHCC"
    ]


def test_a_financial_obligation_through_a_delegation_records_it_each_way(
    delegating: Engine, clock: FixedClock
) -> None:
    code, _ = at_commune(delegating)
    clock.set(vn(2025, 3, 4, 13, 30))
    delegating.start_obligation(code, officer=POLICE_OFFICER)
    clock.set(vn(2025, 3, 4, 15, 30))
    delegating.end_obligation(code, officer=POLICE_OFFICER)
    [started] = rows(delegating, code, "obligation_started")
    [ended] = rows(delegating, code, "obligation_ended")
    assert data_of(started) == AFTERNOON_DATA
    assert data_of(ended) == {"paused_minutes": 120, **AFTERNOON_DATA}
    # The commune's own officer, and the system recording a payment, act in no other capacity.
    code2, _ = at_commune(delegating)
    delegating.start_obligation(code2, officer=COMMUNE_OFFICER)
    clock.advance(hours=1)
    delegating.end_obligation(code2)
    assert rows(delegating, code2, "obligation_started")[0]["data"] is None
    assert data_of(rows(delegating, code2, "obligation_ended")[0]) == {"paused_minutes": 60}


def test_an_officer_of_the_unit_asks_and_receives_a_supplement_with_no_capacity(
    delegating: Engine,
) -> None:
    code, _ = at_commune(delegating)
    delegating.request_supplement(
        code, officer=COMMUNE_OFFICER, missing=["giay_chung_sinh"], reason="Bản chụp không rõ"
    )
    delegating.receive_supplement(code, officer=DESK_A)
    assert "acting" not in data_of(rows(delegating, code, "supplement_requested")[0])
    assert data_of(rows(delegating, code, "supplement_received")[0]) == {"documents": []}
