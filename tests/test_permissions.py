"""Who may act (docs/permissions.md), through the public API of an Engine on the demo province.

Every refusal is checked twice: it names who may, and the store is exactly as before it (the
whole database dumped as SQL, plus the dossier's status, its open steps and its audit rows).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lienthong import (
    Delegation,
    Engine,
    FixedClock,
    InvalidData,
    NotAllowed,
    Officer,
    Organisation,
    OrganisationError,
    Status,
    Unit,
    hookimpl,
)
from lienthong.testing import run_dossier
from support import BHXH, COMMUNE, DESK, POLICE, PROCESSES, receive_birth, snapshot, vn

PROVINCE = "000.00.00.H29"  # above the desk and the commune
COMMUNE_UBND = "000.00.41.H29"  # directly above the commune's civil-status section
LAND_OFFICE = "000.01.10.H29"
TAX = "000.01.80.H29"

DESK_HEAD, DESK_DEPUTY = "tran.thi.mai", "le.van.hung"
DESK_A, DESK_B = "nguyen.thu.ha", "do.quang.vinh"  # desk officers, neither head nor deputy
PROVINCE_HEAD = "nguyen.van.thanh"
COMMUNE_HEAD, COMMUNE_OFFICER = "trieu.thi.hanh", "luong.van.tien"
COMMUNE_UBND_HEAD = "ha.van.long"
POLICE_HEAD, POLICE_OFFICER = "vi.van.manh", "nong.van.binh"

#: The desk's head delegates the desk's work to a commune officer for the week of 3/3/2025.
WEEK = Delegation(
    from_officer=DESK_HEAD,
    to_officer=COMMUNE_OFFICER,
    unit=DESK,
    valid_from=vn(2025, 3, 3, 8, 0),
    valid_to=vn(2025, 3, 8, 0, 0),
    reference="Quyết định 12/QĐ-TTPVHCC",
)


def refused(
    engine: Engine,
    call: Callable[[], object],
    *words: str,
    error: type[Exception] = NotAllowed,
    dossier: str | None = None,
) -> str:
    """``call`` raises ``error`` naming every one of ``words``, and changes nothing stored."""
    before = snapshot(engine)
    if dossier is not None:
        status = engine.dossier(dossier).status
        open_ids = [s.id for s in engine.open_steps(dossier=dossier)]
        audit_count = len(engine.audit_rows(dossier))
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for w in words:
        assert w in message, (w, message)
    assert snapshot(engine) == before
    if dossier is not None:
        assert engine.dossier(dossier).status == status
        assert [s.id for s in engine.open_steps(dossier=dossier)] == open_ids
        assert len(engine.audit_rows(dossier)) == audit_count
    return message


@pytest.fixture
def delegating(make_engine: Callable[..., Engine], org: Organisation) -> Engine:
    """The demo province with the WEEK delegation."""
    e = make_engine(org=Organisation.build(org.units.values(), org.officers.values(), [WEEK]))
    e.load_procedures(PROCESSES)
    return e


def at_commune(engine: Engine) -> tuple[str, int]:
    """A birth dossier past reception: its open step is the commune's birth registration."""
    d = receive_birth(engine)
    [reception] = engine.open_steps(dossier=d.code)
    engine.complete(d.code, reception.id, DESK_A)
    [birth] = engine.open_steps(dossier=d.code)
    assert birth.unit == COMMUNE
    return d.code, birth.id


# -- receive -------------------------------------------------------------------------------------
def test_receive_by_an_officer_of_another_unit_is_refused(engine: Engine) -> None:
    message = refused(
        engine,
        lambda: receive_birth(engine, officer=COMMUNE_OFFICER),
        DESK,
        COMMUNE_OFFICER,
        COMMUNE,
        "may receive",
    )
    assert "only officers of 000.00.01.H29 (Trung tâm Phục vụ hành chính công tỉnh)" in message
    assert engine.dossiers() == []
    refused(engine, lambda: receive_birth(engine, officer="nobody"), "unknown officer 'nobody'")


def test_receive_by_the_desk_by_a_delegate_or_by_the_portal(
    delegating: Engine, clock: FixedClock
) -> None:
    assert receive_birth(delegating, officer=DESK_A).status == Status.ACCEPTED
    assert receive_birth(delegating, officer=COMMUNE_OFFICER).status == Status.ACCEPTED  # WEEK
    assert receive_birth(delegating, channel=2).status == Status.NEW  # no officer: the portal
    clock.set(vn(2025, 3, 10, 9, 0))  # the week is over
    refused(
        delegating,
        lambda: receive_birth(delegating, officer=COMMUNE_OFFICER),
        "is not in force at 2025-03-10T09:00:00+07:00",
    )


# -- claim and complete ------------------------------------------------------------------------
def test_an_ancestor_head_without_escalation_may_not_act(engine: Engine) -> None:
    code = receive_birth(engine).code
    [reception] = engine.open_steps(dossier=code)
    message = refused(
        engine,
        lambda: engine.complete(code, reception.id, PROVINCE_HEAD),
        f"may complete step {reception.id} (Tiếp nhận hồ sơ) of {code}",
        f"only officers of {DESK}",
        "leads 000.00.00.H29",
        dossier=code,
    )
    assert "without an escalation or a delegation" in message
    refused(
        engine, lambda: engine.claim(code, reception.id, PROVINCE_HEAD), "may claim", dossier=code
    )
    code2, birth = at_commune(engine)
    refused(
        engine,
        lambda: engine.complete(code2, birth, COMMUNE_UBND_HEAD, {"birth_certificate_no": "KS"}),
        COMMUNE,
        COMMUNE_UBND_HEAD,
        dossier=code2,
    )


def test_a_claimed_step_refuses_the_other_officers_of_its_unit(engine: Engine) -> None:
    code = receive_birth(engine).code
    [reception] = engine.open_steps(dossier=code)
    engine.claim(code, reception.id, DESK_A)
    for other in (DESK_B, DESK_HEAD):  # the unit's own head too: the claim stands
        refused(
            engine,
            lambda o=other: engine.complete(code, reception.id, o),
            f"is claimed by {DESK_A}: only {DESK_A} or an officer it is escalated to",
            f"may complete it, not {other}",
            dossier=code,
        )
        refused(
            engine,
            lambda o=other: engine.claim(code, reception.id, o),
            f"is claimed by {DESK_A}",
            "may claim it",
            dossier=code,
        )
    assert engine.complete(code, reception.id, DESK_A).status == Status.PROCESSING


def test_the_officer_a_step_was_escalated_to_may_complete_it_over_a_claim(
    engine: Engine, clock: FixedClock
) -> None:
    code, birth_id = at_commune(engine)
    engine.claim(code, birth_id, COMMUNE_OFFICER)
    data = {"birth_certificate_no": "KS-01"}
    birth = engine.step(code, birth_id)
    assert birth.next_escalation_at is not None
    engine.tick(birth.next_escalation_at)  # level 1: the section's own head
    assert engine.step(code, birth_id).escalated_to == COMMUNE_HEAD
    refused(
        engine,
        lambda: engine.complete(code, birth_id, COMMUNE_UBND_HEAD, data),
        f"the officer it was escalated to ({COMMUNE_HEAD})",
        dossier=code,
    )
    later = engine.step(code, birth_id).next_escalation_at
    assert later is not None
    engine.tick(later)  # level 2: the head of the commune People's Committee, above it
    clock.set(later)
    assert engine.step(code, birth_id).escalated_to == COMMUNE_UBND_HEAD
    # The escalation moved on: the section's head is back to an officer of the unit, and the
    # claim stands against her; the province's head, never escalated to, still may not act.
    refused(
        engine,
        lambda: engine.complete(code, birth_id, COMMUNE_HEAD, data),
        f"is claimed by {COMMUNE_OFFICER}",
        f"the officer it was escalated to ({COMMUNE_UBND_HEAD})",
        dossier=code,
    )
    refused(
        engine,
        lambda: engine.complete(code, birth_id, PROVINCE_HEAD, data),
        f"the officer it was escalated to ({COMMUNE_UBND_HEAD})",
        "leads 000.00.00.H29",
        dossier=code,
    )
    engine.complete(code, birth_id, COMMUNE_UBND_HEAD, data)
    done = engine.step(code, birth_id)
    assert (done.status, done.closed_by) == ("done", COMMUNE_UBND_HEAD)


def test_the_escalated_officer_may_take_a_claimed_step(engine: Engine) -> None:
    code, birth_id = at_commune(engine)
    engine.claim(code, birth_id, COMMUNE_OFFICER)
    at = engine.step(code, birth_id).next_escalation_at
    assert at is not None
    engine.tick(at)
    assert engine.claim(code, birth_id, COMMUNE_HEAD).assignee == COMMUNE_HEAD


def test_a_delegate_within_validity_may_complete(delegating: Engine, clock: FixedClock) -> None:
    code = receive_birth(delegating).code
    [reception] = delegating.open_steps(dossier=code)
    clock.set(vn(2025, 3, 7, 16, 0))  # the last working day of the delegation
    delegating.claim(code, reception.id, COMMUNE_OFFICER)
    assert delegating.complete(code, reception.id, COMMUNE_OFFICER).status == Status.PROCESSING
    assert delegating.step(code, reception.id).closed_by == COMMUNE_OFFICER


@pytest.mark.parametrize("when", [vn(2025, 3, 3, 7, 59), vn(2025, 3, 8, 0, 0), vn(2025, 3, 10, 9)])
def test_a_delegate_outside_validity_may_not(
    delegating: Engine, clock: FixedClock, when: datetime
) -> None:
    clock.set(vn(2025, 3, 3, 7, 0))
    code = receive_birth(delegating).code
    [reception] = delegating.open_steps(dossier=code)
    clock.set(when)
    message = refused(
        delegating,
        lambda: delegating.complete(code, reception.id, COMMUNE_OFFICER),
        f"only officers of {DESK}",
        "an officer delegated to act for it (ủy quyền)",
        f"{DESK_HEAD} -> {COMMUNE_OFFICER} for {DESK}",
        f"is not in force at {when.isoformat()}",
        dossier=code,
    )
    assert "in force now" not in message


def test_a_delegate_does_not_override_a_claim(delegating: Engine) -> None:
    code = receive_birth(delegating).code
    [reception] = delegating.open_steps(dossier=code)
    delegating.claim(code, reception.id, DESK_A)
    refused(
        delegating,
        lambda: delegating.complete(code, reception.id, COMMUNE_OFFICER),
        f"is claimed by {DESK_A}",
        dossier=code,
    )


def test_refusals_name_the_delegates_in_force(delegating: Engine) -> None:
    code = receive_birth(delegating).code
    [reception] = delegating.open_steps(dossier=code)
    refused(
        delegating,
        lambda: delegating.complete(code, reception.id, POLICE_OFFICER),
        f"in force now: {COMMUNE_OFFICER}",
        POLICE,
        dossier=code,
    )


def test_unknown_officer(engine: Engine) -> None:
    code = receive_birth(engine).code
    [reception] = engine.open_steps(dossier=code)
    refused(
        engine,
        lambda: engine.complete(code, reception.id, "ghost"),
        "unknown officer 'ghost'",
        dossier=code,
    )


# -- withdraw -----------------------------------------------------------------------------------
def test_stopping_for_the_agency_is_the_leaderships(delegating: Engine) -> None:
    engine = delegating
    code, _ = at_commune(engine)

    def stop(officer: str | None) -> Callable[[], object]:
        return lambda: engine.withdraw(
            code, reason="Dừng giải quyết", officer=officer, by_agency=True
        )

    # Who may: the desk's and the resolving commune section's leaders (police and social
    # insurance only coordinate).
    who = (
        f"{DESK} (Trung tâm Phục vụ hành chính công tỉnh): {DESK_HEAD}, {DESK_DEPUTY}; "
        f"{COMMUNE} (Bộ phận Tư pháp – Hộ tịch xã Tân Mẫu): {COMMUNE_HEAD}"
    )
    refused(engine, stop(None), who, "give the officer who stops it", dossier=code)
    for officer in (DESK_A, COMMUNE_OFFICER, POLICE_HEAD, PROVINCE_HEAD):
        # a desk officer, a delegate for the desk, a coordinating unit's head, a head above
        refused(engine, stop(officer), who, f"{officer} is an officer of", dossier=code)
    refused(engine, stop("ghost"), "unknown officer", dossier=code)
    assert engine.withdraw(code, reason="Dừng", officer=COMMUNE_HEAD, by_agency=True).status == (
        Status.STOPPED
    )


@pytest.mark.parametrize("officer", [DESK_HEAD, DESK_DEPUTY, COMMUNE_HEAD])
def test_the_desk_or_resolving_units_leaders_may_stop(engine: Engine, officer: str) -> None:
    code, _ = at_commune(engine)
    d = engine.withdraw(code, reason="Dừng giải quyết", officer=officer, by_agency=True)
    assert d.status == Status.STOPPED
    assert engine.audit_rows(code)[-1]["from_officer"] == officer


def test_the_land_offices_head_may_stop_the_tax_offices_may_not(
    engine: Engine, clock: FixedClock
) -> None:
    code = run_dossier(engine, clock, "1.013831", until="financial_obligation")
    refused(
        engine,
        lambda: engine.withdraw(code, reason="x", officer="giap.van.cuong", by_agency=True),
        f"{LAND_OFFICE} (Văn phòng Đăng ký đất đai tỉnh): ly.van.son, mai.thi.huong",
        dossier=code,
    )
    assert engine.withdraw(code, reason="x", officer="ly.van.son", by_agency=True).status == (
        Status.STOPPED
    )


def test_the_applicants_withdrawal_is_taken_by_the_desk(engine: Engine) -> None:
    code, _ = at_commune(engine)
    refused(
        engine,
        lambda: engine.withdraw(code, reason="Xin rút", officer=COMMUNE_OFFICER),
        f"only officers of the receiving desk {DESK}",
        "applicant's withdrawal",
        dossier=code,
    )
    assert engine.withdraw(code, reason="Xin rút", officer=DESK_B).status == Status.WITHDRAWN
    other, _ = at_commune(engine)
    assert engine.withdraw(other, reason="Xin rút qua Cổng").status == Status.WITHDRAWN


# -- financial obligations (pausing the legal clock) -------------------------------------------
def test_pausing_needs_an_open_step_or_the_desk(engine: Engine, clock: FixedClock) -> None:
    code, _ = at_commune(engine)
    message = refused(
        engine,
        lambda: engine.start_obligation(code, officer=POLICE_OFFICER),
        f"only officers of a unit with an open step of dossier {code} ({COMMUNE}",
        f"receiving desk {DESK}",
        "start a financial obligation",
        POLICE,
        dossier=code,
    )
    assert "pausing the legal clock" in message
    refused(
        engine, lambda: engine.start_obligation(code, officer=PROVINCE_HEAD), PROVINCE, dossier=code
    )
    assert engine.start_obligation(code, officer=COMMUNE_OFFICER).status == (
        Status.FINANCIAL_OBLIGATION
    )
    clock.advance(hours=2)
    refused(
        engine,
        lambda: engine.end_obligation(code, officer=BHXH_OFFICER),
        "end the financial obligation",
        BHXH,
        dossier=code,
    )
    assert engine.end_obligation(code, officer=DESK_A).status == Status.PROCESSING
    assert engine.start_obligation(code, officer=DESK_B).status == Status.FINANCIAL_OBLIGATION
    clock.advance(hours=1)
    assert engine.end_obligation(code).status == Status.PROCESSING  # the system: paid online


BHXH_OFFICER = "vuong.thi.lien"


def test_the_tax_office_pauses_no_more_once_its_step_is_closed(
    engine: Engine, clock: FixedClock
) -> None:
    code = run_dossier(engine, clock, "1.013831", until="update_cadastre")
    refused(
        engine,
        lambda: engine.start_obligation(code, officer="au.van.phuc"),
        f"({LAND_OFFICE} (Văn phòng Đăng ký đất đai tỉnh))",
        TAX,
        dossier=code,
    )
    assert engine.start_obligation(code, officer="ta.duc.anh").status == (
        Status.FINANCIAL_OBLIGATION
    )


def test_a_delegate_for_the_desk_may_pause(delegating: Engine) -> None:
    code, _ = at_commune(delegating)
    refused(
        delegating,
        lambda: delegating.start_obligation(code, officer=POLICE_OFFICER),
        "or an officer delegated to act for one of them",
        dossier=code,
    )
    assert delegating.start_obligation(code, officer=COMMUNE_OFFICER).status == (
        Status.FINANCIAL_OBLIGATION
    )


# -- supplements --------------------------------------------------------------------------------
def test_only_the_desk_receives_a_supplement(engine: Engine) -> None:
    code, _ = at_commune(engine)
    engine.request_supplement(
        code, officer=COMMUNE_OFFICER, missing=["giay_chung_sinh"], reason="Bản chụp không rõ"
    )
    for officer in (COMMUNE_OFFICER, POLICE_HEAD, PROVINCE_HEAD):
        refused(
            engine,
            lambda o=officer: engine.receive_supplement(code, officer=o),
            f"only officers of the receiving desk {DESK}",
            "may receive the supplement",
            f"; {officer} ",
            dossier=code,
        )
    refused(
        engine,
        lambda: engine.receive_supplement(code, officer="ghost"),
        "unknown officer",
        dossier=code,
    )
    assert engine.receive_supplement(code, officer=DESK_A).status == Status.PROCESSING


def test_a_supplement_through_the_portal_needs_no_officer(engine: Engine) -> None:
    code, _ = at_commune(engine)
    engine.request_supplement(
        code, officer=COMMUNE_HEAD, missing=["giay_chung_sinh"], reason="Bản chụp không rõ"
    )
    d = engine.receive_supplement(code, documents=["giay_chung_sinh"])
    assert d.status == Status.PROCESSING
    assert engine.audit_rows(code)[-1]["to_officer"] is None


def test_a_supplement_is_requested_by_a_unit_working_the_dossier(engine: Engine) -> None:
    code, _ = at_commune(engine)
    refused(
        engine,
        lambda: engine.request_supplement(code, officer=DESK_A, missing=["x"], reason="r"),
        f"only officers of a unit with an open step of dossier {code} ({COMMUNE}",
        f"officer {DESK_A} ({DESK}) has no open step in it",
        dossier=code,
    )


# -- routing ------------------------------------------------------------------------------------
def test_a_role_is_routed_only_to_a_unit_that_holds_it(engine: Engine) -> None:
    message = refused(
        engine,
        lambda: receive_birth(engine, routing={"police-residence": DESK}),
        "'police-residence'",
        f"cannot go to {DESK} (Trung tâm Phục vụ hành chính công tỉnh), which does not hold it",
        f"units that hold it: {POLICE} (Công an xã Tân Mẫu)",
        error=InvalidData,
    )
    assert message.startswith("routing:")
    assert engine.dossiers() == []
    d = receive_birth(engine, routing={"police-residence": POLICE})
    assert d.routing["police-residence"] == POLICE


def test_routing_among_several_holders(
    make_engine: Callable[..., Engine], org: Organisation
) -> None:
    other = Unit(
        code="X.POLICE", name="Công an xã khác", parent="000.00.60.H29", roles=("police-residence",)
    )
    engine = make_engine(
        org=Organisation.build([*org.units.values(), other], org.officers.values())
    )
    engine.load_procedures(PROCESSES)
    refused(
        engine,
        lambda: receive_birth(engine, routing={"police-residence": BHXH}),
        f"units that hold it: {POLICE} (Công an xã Tân Mẫu), X.POLICE (Công an xã khác)",
        error=InvalidData,
    )
    assert (
        receive_birth(engine, routing={"police-residence": "X.POLICE"}).routing["police-residence"]
        == "X.POLICE"
    )


# -- the organisation file ----------------------------------------------------------------------
ORG = """
[[unit]]
code = "A"
name = "Đơn vị A"
head = "head"
deputies = ["deputy"]
[[officer]]
id = "head"
name = "H"
unit = "A"
[[officer]]
id = "deputy"
name = "D"
unit = "A"
[[officer]]
id = "clerk"
name = "C"
unit = "A"
"""


def test_delegations_load_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(
        ORG
        + """
[[delegation]]
from_officer = "head"
to_officer = "clerk"
unit = "A"
valid_from = 2025-03-03
valid_to = 2025-03-07
reference = "QĐ 1"
[[delegation]]
from_officer = "deputy"
to_officer = "clerk"
unit = "A"
valid_from = 2025-04-01T13:30:00
valid_to = 2025-04-01T17:00:00+07:00
""",
        encoding="utf-8",
    )
    org = Organisation.from_file(path)
    week, afternoon = org.delegations
    # Dates are whole days: through the end of 7/3.
    assert (week.valid_from, week.valid_to) == (vn(2025, 3, 3, 0, 0), vn(2025, 3, 8, 0, 0))
    assert week.reference == "QĐ 1"
    assert afternoon.valid_from == vn(2025, 4, 1, 13, 30)  # local time is Vietnamese
    assert org.delegated("clerk", "A", vn(2025, 3, 7, 23, 59)) == week
    assert org.delegated("clerk", "A", vn(2025, 3, 8, 0, 0)) is None
    assert org.delegations_for("A", vn(2025, 4, 1, 14, 0)) == [afternoon]


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            'from_officer = "clerk"\nto_officer = "head"\nunit = "A"\n'
            "valid_from = 2025-03-03\nvalid_to = 2025-03-07\n",
            ["clerk is not the head or a deputy of A", "only head, deputy may delegate"],
        ),
        (
            'from_officer = "head"\nto_officer = "ghost"\nunit = "A"\n'
            "valid_from = 2025-03-03\nvalid_to = 2025-03-07\n",
            ["'ghost' is not listed"],
        ),
        (
            'from_officer = "head"\nto_officer = "clerk"\nunit = "B"\n'
            "valid_from = 2025-03-03\nvalid_to = 2025-03-07\n",
            ["unit 'B' is not a unit"],
        ),
        (
            'from_officer = "head"\nto_officer = "head"\nunit = "A"\n'
            "valid_from = 2025-03-03\nvalid_to = 2025-03-07\n",
            ["themselves"],
        ),
        (
            'from_officer = "head"\nto_officer = "clerk"\nunit = "A"\n'
            "valid_from = 2025-03-07\nvalid_to = 2025-03-06\n",
            ["is not after valid_from"],
        ),
        (
            'from_officer = "head"\nto_officer = "clerk"\nunit = "A"\n'
            'valid_from = "next week"\nvalid_to = 2025-03-06\n',
            ["[[delegation]] #1", "valid_from"],
        ),
        (
            'from_officer = "head"\nunit = "A"\nvalid_from = 2025-03-03\nvalid_to = 2025-03-06\n',
            ["[[delegation]] #1", "missing 'to_officer'"],
        ),
    ],
)
def test_bad_delegations(tmp_path: Path, table: str, words: list[str]) -> None:
    path = tmp_path / "org.toml"
    path.write_text(ORG + "[[delegation]]\n" + table, encoding="utf-8")
    with pytest.raises(OrganisationError) as info:
        Organisation.from_file(path)
    assert str(path) in str(info.value)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_the_plural_table_name_is_pointed_out(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(ORG + '[[delegations]]\nfrom_officer = "head"\n', encoding="utf-8")
    with pytest.raises(OrganisationError, match=r"write \[\[delegation\]\]"):
        Organisation.from_file(path)


def test_naive_instants_are_refused_in_code(org: Organisation) -> None:
    naive = Delegation(DESK_HEAD, DESK_A, DESK, datetime(2025, 3, 3), vn(2025, 3, 4))
    with pytest.raises(OrganisationError, match="valid_from must be a timezone-aware"):
        Organisation.build(org.units.values(), org.officers.values(), [naive])


class ExtraUnit:
    @hookimpl
    def organisation_units(self) -> list[Any]:
        return [
            Unit(code="X.1", name="Đơn vị thêm", parent=PROVINCE),
            Officer(id="x.one", name="X", unit="X.1"),
        ]


def test_delegations_survive_units_added_by_plugins(
    make_engine: Callable[..., Engine], org: Organisation
) -> None:
    with_week = Organisation.build(org.units.values(), org.officers.values(), [WEEK])
    engine = make_engine(org=with_week, plugins=[ExtraUnit()])
    assert "X.1" in engine.org.units
    assert engine.org.delegations == (WEEK,)
