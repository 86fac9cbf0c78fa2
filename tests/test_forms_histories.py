"""For every life of a dossier the test kit draws (``dossier_histories``: supplements, pauses,
apologies, claims, deputies, refusals, withdrawals and stops, on several procedures and both
channels), each dossier form is made exactly when the dossier gives it ground, and then it is
Vietnamese only: the dossier's code, names not user ids, no English word; otherwise it is refused
with FormNotApplicable (never another error)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from forms_support import english_words, html_text
from lienthong import FixedClock, FormNotApplicable, Status, forms
from lienthong.testing import History, StubOperations, dossier_histories, make_test_engine, play
from support import PROCESSES, vn

CODES = ("233448", "1.013831", "1.013932")
AGENCIES = StubOperations(
    {
        "police.record_residence": {"residence_recorded": True},
        "social_insurance.issue_card": {"health_insurance_card": "TE1"},
        "tax.register_household": {"tax_registered": True},
    }
)
WEIGHTS = {
    "withdraw": 1,
    "refuse": 1,
    "claim": 1,
    "deputy": 1,
    "request_supplement": 3,
    "apologise": 3,
}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(dossier_histories(CODES, weights=WEIGHTS, max_actions=20))
def test_each_form_is_made_exactly_when_the_dossier_gives_it_ground(history: History) -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    engine = make_test_engine(AGENCIES, clock=clock, processes=[PROCESSES])
    with engine:
        record = play(engine, clock, history)
        d = engine.dossier(record.code)
        events = {r["event"] for r in engine.audit_rows(record.code)}
        ground = {
            "01": d.received_at is not None and d.status != Status.REFUSED,
            "02": "supplement_requested" in events,
            "03": "refused" in events,
            "04": d.apology_issued_at is not None,
            "05": "withdrawn" in events,
            "06": True,
        }
        officers = list(engine.org.officers)
        for number, expected in ground.items():
            try:
                form = forms.build(engine.db, number, record.code)
            except FormNotApplicable as e:
                assert not expected, f"Mẫu {number} refused: {e}"
                assert record.code in str(e)
                continue
            assert expected, f"Mẫu {number} made for a dossier without its ground"
            text = html_text(forms.to_html(form))
            assert record.code in text
            assert english_words(text) == [], number
            assert [o for o in officers if o in text] == [], number
