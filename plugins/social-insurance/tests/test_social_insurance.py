"""The social-insurance plugin through lienthong's public API: Engine, FixedClock, demo org."""

from __future__ import annotations

from datetime import date

import lienthong_social_insurance as si
import pytest

from lienthong import PluginError, Status, hookimpl

CHILD = {"child": {"name": "Nguyễn Văn Bé", "birth_date": "2025-02-20", "gender": "nam"}}


def issue_step(engine, code):
    return next(s for s in engine.steps(code) if s.spec_id == "issue_card")


def test_a_dossier_gets_a_card_in_the_real_format(make_engine, run):
    engine = make_engine(si)
    code = run(engine, data=CHILD)

    d = engine.dossier(code)
    assert d.status == Status.RETURNED
    result = issue_step(engine, code).data
    assert set(result) == {"bhxh_code", "health_insurance_card", "card_valid_until"}
    parts = si.check_card_number(result["health_insurance_card"])
    assert parts == {
        "object_code": "TE",
        "benefit_level": "1",
        "province_code": si.DEFAULT_PROVINCE_CODE,
        "bhxh_code": result["bhxh_code"],
    }
    assert si.check_bhxh_code(result["bhxh_code"]).startswith(si.DEFAULT_PROVINCE_CODE)
    # Under 6: valid until the day before the 6th birthday.
    assert result["card_valid_until"] == "2031-02-19"
    row = si.issued_card(engine.db, code)
    assert row is not None
    assert row["bhxh_code"] == result["bhxh_code"]
    assert row["child_name"] == "Nguyễn Văn Bé"


def test_numbers_are_deterministic(make_engine, run):
    first = issue_step(e := make_engine(si), run(e, data=CHILD)).data
    second = issue_step(e := make_engine(si), run(e, data=CHILD)).data
    assert first == second
    other = issue_step(
        e := make_engine(si), run(e, data={"child": {"name": "Trần Thị Cúc",
                                                     "birth_date": "2025-02-21"}})
    ).data
    assert other["bhxh_code"] != first["bhxh_code"]


def test_the_same_child_never_gets_two_numbers(make_engine, run):
    engine = make_engine(si)
    child = {"child": {**CHILD["child"], "personal_id": "029225000123"}}
    a = run(engine, data=child)
    b = run(engine, data=child)  # a second dossier for the same child (same personal id)
    assert a != b
    assert issue_step(engine, a).data == issue_step(engine, b).data
    assert engine.db[si.TABLE].count == 1


class FailsOnceAfterIssuing:
    """Breaks the service step's transaction *after* the card was issued: the handoff that
    follows it raises once."""

    __name__ = "fails-once"

    def __init__(self) -> None:
        self.armed = True

    @hookimpl
    def handoff(self, from_step):
        if self.armed and from_step is not None and from_step.spec_id == "issue_card":
            self.armed = False
            raise RuntimeError("the card printer is jammed")


def test_retry_after_a_failure_issues_the_same_numbers(make_engine, run):
    expected = issue_step(e := make_engine(si), run(e, data=CHILD)).data

    engine = make_engine(si, FailsOnceAfterIssuing())
    code = run(engine, data=CHILD)
    step = issue_step(engine, code)
    assert step.status == "failed"
    assert "card printer is jammed" in step.last_error
    assert "'fails-once'" in step.last_error and "'handoff'" in step.last_error
    assert si.issued_card(engine.db, code) is None  # rolled back with the step's transaction
    assert [r["event"] for r in engine.audit_rows(code)].count("service_failed") == 1

    engine.retry(code, step.id)
    assert issue_step(engine, code).data == expected
    assert engine.db[si.TABLE].count == 1


def test_a_taken_number_is_not_issued_twice(make_engine, run):
    engine = make_engine(si)
    code = "000.00.01.H29-250303-0001"  # the code the first dossier of the day gets
    key = "ks:15/2025|nguyễn văn bé|2025-02-20"
    taken = si.bhxh_code_for(f"{code}\x1f{key}", si.DEFAULT_PROVINCE_CODE, 0)
    with engine.store.transaction() as db:
        si._ensure_table(db)
        db[si.TABLE].insert({"child_key": "id:someone-else", "bhxh_code": taken,
                             "health_insurance_card": si.card_number(taken, "29"),
                             "dossier": "elsewhere"})
    assert run(engine, data=CHILD) == code
    got = issue_step(engine, code).data["bhxh_code"]
    assert got == si.bhxh_code_for(f"{code}\x1f{key}", si.DEFAULT_PROVINCE_CODE, 1)
    assert got != taken


def test_a_child_of_six_gets_no_te_card(make_engine, run):
    engine = make_engine(si)
    code = run(engine, data={"child": {"name": "Lê Văn Lớn", "birth_date": "03/03/2019"}})
    step = issue_step(engine, code)
    assert step.status == "failed"
    assert "'lienthong_social_insurance'" in step.last_error
    assert "'perform_operation'" in step.last_error
    assert "6 or older" in step.last_error
    assert engine.dossier(code).status == Status.PROCESSING
    with pytest.raises(PluginError, match="6 or older"):
        engine.retry(code, step.id)


def test_child_data_from_the_applicants_declaration(make_engine, run):
    engine = make_engine(si)
    code = run(engine, applicant={"name": "Nguyễn Văn An", "address": "Thôn 1, xã Tân Mẫu",
                                  "child_name": "Nguyễn Văn Bé",
                                  "child_birth_date": "20/02/2025"})
    assert issue_step(engine, code).data["card_valid_until"] == "2031-02-19"
    assert si.issued_card(engine.db, code)["child_name"] == "Nguyễn Văn Bé"


def test_without_a_birth_date_the_card_has_no_end(make_engine, run):
    engine = make_engine(si)
    code = run(engine)  # only the birth certificate number identifies the child
    assert engine.dossier(code).status == Status.RETURNED
    assert issue_step(engine, code).data["card_valid_until"] is None
    assert si.issued_card(engine.db, code)["child_name"] is None


def test_something_must_identify_the_child(make_engine, run):
    engine = make_engine(si)
    code = run(engine)
    dossier, step = engine.dossier(code), issue_step(engine, code)
    with engine.store.transaction() as db, pytest.raises(ValueError,
                                                          match="nothing identifies the child"):
        si.perform_operation(operation=si.OPERATION, dossier=dossier, step=step,
                             data={"applicant": {"name": "Nguyễn Văn An"}}, db=db)


def test_province_code_from_the_environment_or_the_object(make_engine, run, monkeypatch):
    monkeypatch.setenv(si.PROVINCE_ENV, "31")
    card = issue_step(e := make_engine(si), run(e, data=CHILD)).data["health_insurance_card"]
    assert card.startswith("TE131")
    monkeypatch.delenv(si.PROVINCE_ENV)
    card = issue_step(
        e := make_engine(si.SocialInsurance("48")), run(e, data=CHILD)
    ).data["health_insurance_card"]
    assert card[:5] == "TE148" and card[5:7] == "48"
    with pytest.raises(ValueError, match="province code"):
        si.SocialInsurance("7")


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("TE1290123456789", None),
        ("TE129012345678", "15 characters"),
        ("te1290123456789", "capital letters"),
        ("TE6290123456789", "benefit level"),
        ("TE2290123456789", "benefit level 1"),
        ("TE1000123456789", "province code"),
        ("TE12901234567AB", "10 digits"),
    ],
)
def test_card_number_checks(card, message):
    if message is None:
        assert si.check_card_number(card)["bhxh_code"] == "0123456789"
    else:
        with pytest.raises(ValueError, match=message):
            si.check_card_number(card)


def test_validity_rules():
    assert si.card_valid_until(date(2025, 2, 20)) == date(2031, 2, 19)
    assert si.card_valid_until(date(2024, 2, 29)) == date(2030, 2, 28)
    school = "72-months-school-year"
    assert si.card_valid_until(date(2025, 2, 20), school) == date(2031, 9, 30)
    assert si.card_valid_until(date(2025, 11, 5), school) == date(2031, 11, 30)
    assert si.card_valid_until(date(2025, 12, 5), school) == date(2031, 12, 31)
    with pytest.raises(ValueError, match="validity rule"):
        si.card_valid_until(date(2025, 1, 1), "forever")
