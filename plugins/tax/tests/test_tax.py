"""The tax plugin through lienthong's public API: Engine, FixedClock, demo organisation, the
liên thông household business – security – karaoke procedure of processes/."""

from __future__ import annotations

import lienthong_tax as tax
import pytest

from lienthong import PluginError, ProcedureError, Status


def tax_step(engine, code):
    return next(s for s in engine.steps(code) if s.spec_id == "register_tax")


def test_the_household_is_registered_with_its_heads_number_as_tax_code(make_engine, run, owner_id):
    engine = make_engine(tax)
    code = run(engine)

    assert engine.dossier(code).status == Status.RETURNED
    assert tax_step(engine, code).data == {"tax_registered": True, "tax_code": owner_id}
    row = tax.household_registration(engine.db, code)
    assert row is not None
    assert row["tax_code"] == owner_id
    assert row["household_business_no"] == "41A8-000123"
    assert row["step_id"] == tax_step(engine, code).id


def test_the_number_from_the_applicants_declaration_when_the_desk_gave_none(make_engine, run):
    engine = make_engine(tax)
    code = run(
        engine,
        applicant={"name": "Lò Văn Páo", "id_number": "011200009876", "business_name": "Hát Vui"},
        # The reception step requires owner_id_number: an empty value is refused, so the desk
        # gives a placeholder the plugin does not read (None would be refused as missing).
        step_data={"reception": {"owner_id_number": " "}},
    )
    row = tax.household_registration(engine.db, code)
    assert row["tax_code"] == "011200009876"
    assert row["business_name"] == "Hát Vui"


@pytest.mark.parametrize(
    ("number", "words"),
    [("12345", "is not 12 digits"), ("03819000123X", "is not 12 digits")],
)
def test_a_bad_number_fails_the_step_with_a_clear_error(make_engine, run, number, words, owner_id):
    engine = make_engine(tax)
    code = run(engine, step_data={"reception": {"owner_id_number": number}})
    step = tax_step(engine, code)
    assert step.status == "failed" and step.is_open
    for part in ("'lienthong_tax'", "'perform_operation'", code, words, "HouseholdDataMissing"):
        assert part in step.last_error
    assert tax.household_registration(engine.db, code) is None
    # The desk corrects the number; the open tax step runs again with it.
    engine.correct_data(
        code, officer="dinh.thi.hue", data={"owner_id_number": owner_id}, reason="số định danh"
    )
    engine.work()
    assert tax_step(engine, code).data == {"tax_registered": True, "tax_code": owner_id}


def test_a_retry_with_the_same_bad_number_fails_again(make_engine, run):
    engine = make_engine(tax)
    code = run(engine, step_data={"reception": {"owner_id_number": "1"}})
    with pytest.raises(PluginError, match="is not 12 digits"):
        engine.retry(code, tax_step(engine, code).id)


def test_the_operation_is_the_plugins_and_nothing_else(make_engine):
    assert tax.operations() == [tax.OPERATION]
    assert tax.perform_operation("police.record_residence", None, None, {}, None) is None
    # Without the plugin the procedure does not load: no plugin performs its tax step.
    with pytest.raises(ProcedureError, match=r"tax\.register_household"):
        make_engine()
