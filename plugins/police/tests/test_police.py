"""The police plugin through lienthong's public API: Engine, FixedClock, demo org."""

from __future__ import annotations

import lienthong_police as police
import pytest

from lienthong import InvalidData, PluginError, Status

CHILD = {"child": {"name": "Nguyễn Văn Bé", "birth_date": "2025-02-20"}}


def record_step(engine, code):
    return next(s for s in engine.steps(code) if s.spec_id == "record_residence")


def test_the_residence_registration_is_recorded(make_engine, run):
    engine = make_engine(police)
    code = run(engine, data=CHILD)

    assert engine.dossier(code).status == Status.RETURNED
    assert record_step(engine, code).data == {
        "residence_recorded": True,
        "residence_registration_no": "TT-2025-0015",
        "residence_address": "Thôn 1, xã Tân Mẫu",
    }
    row = police.residence_record(engine.db, code)
    assert row is not None
    assert row["residence_registration_no"] == "TT-2025-0015"
    assert row["person_name"] == "Nguyễn Văn Bé"
    assert row["household_head"] == "Nguyễn Văn An"  # the applicant, for want of a chủ hộ
    assert row["address"] == "Thôn 1, xã Tân Mẫu"


def test_household_and_address_from_the_workflow_data(make_engine, run):
    engine = make_engine(police)
    code = run(engine, data={**CHILD, "household_head": "Nguyễn Văn Ông",
                             "residence_address": "Số 5, thôn 2, xã Tân Mẫu"})
    row = police.residence_record(engine.db, code)
    assert row["household_head"] == "Nguyễn Văn Ông"
    assert row["address"] == "Số 5, thôn 2, xã Tân Mẫu"


def test_an_officer_cannot_skip_the_registration_number(make_engine, run):
    engine = make_engine(police)
    # lienthong:required-fields on 'Đăng ký thường trú' refuses the step without it.
    with pytest.raises(InvalidData, match="residence_registration_no"):
        run(engine, data=CHILD, step_data={"register_residence": {}})


def test_a_missing_address_fails_the_step_with_a_clear_error(make_engine, clock):
    engine = make_engine(police)
    proc = engine.procedure("233448")
    d = engine.receive(proc.code, applicant={"name": "Trần Thị Cúc"},  # no address
                       receiving_unit="000.00.01.H29", documents=proc.required_documents)
    data = {"reception": {}, "register_birth": {"birth_certificate_no": "16/2025"},
            "register_residence": {"residence_registration_no": "TT-2025-0016"}}
    for spec in ("reception", "register_birth", "register_residence"):
        step = next(s for s in engine.steps(d.code) if s.is_open and s.spec_id == spec)
        engine.complete(d.code, step.id, engine.org.members(step.unit)[-1].id, data[spec])

    step = record_step(engine, d.code)
    assert step.status == "failed" and step.is_open
    for part in ("'lienthong_police'", "'perform_operation'", d.code, "no address to register",
                 "ResidenceDataMissing"):
        assert part in step.last_error
    assert police.residence_record(engine.db, d.code) is None
    failed = [r for r in engine.audit_rows(d.code) if r["event"] == "service_failed"]
    assert len(failed) == 1 and failed[0]["step_id"] == step.id
    with pytest.raises(PluginError, match="no address to register"):
        engine.retry(d.code, step.id)


def test_missing_number_is_refused_by_the_plugin_itself(make_engine, run):
    engine = make_engine(police)
    code = run(engine, data=CHILD)
    dossier, step = engine.dossier(code), record_step(engine, code)
    with engine.store.transaction() as db, pytest.raises(
        police.ResidenceDataMissing, match="'residence_registration_no' is missing"
    ):
        police.perform_operation(operation=police.OPERATION, dossier=dossier, step=step,
                                 data={}, db=db)


def test_recording_twice_keeps_one_row(make_engine, run):
    engine = make_engine(police)
    code = run(engine, data=CHILD)
    dossier, step = engine.dossier(code), record_step(engine, code)
    with engine.store.transaction() as db:
        again = police.perform_operation(
            operation=police.OPERATION, dossier=dossier, step=step,
            data={"residence_registration_no": "TT-2025-0015"}, db=db)
    assert again["residence_registration_no"] == "TT-2025-0015"
    assert engine.db[police.TABLE].count == 1


def test_other_operations_are_not_ours(make_engine):
    engine = make_engine(police)
    assert police.perform_operation(operation="social_insurance.issue_card", dossier=None,
                                    step=None, data={}, db=engine.db) is None
    assert police.operations() == ["police.record_residence"]
