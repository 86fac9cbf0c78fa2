"""Over the test kit's random dossier histories: the portal hook is called after an action
exactly when the action changed the dossier's portal record or progress, with the record the
store then holds; every record has every field, the portal's dates and status codes; and the
replay of the audit (status, appointment) ends where the dossier row stands."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong import FixedClock, hookimpl, portal
from lienthong.testing import History, Player, StubOperations, dossier_histories, make_test_engine
from support import PROCESSES, vn
from test_portal import check_shape

CODES = ("233448", "1.013831", "1.013932", "DTP-QD138-D34")
AGENCIES = StubOperations(
    {
        "police.record_residence": {"residence_recorded": True},
        "social_insurance.issue_card": {"health_insurance_card": "TE1"},
        "tax.register_household": {"tax_registered": True},
    }
)
#: Histories that mostly reach the result (status 9, 10), and histories that often end early
#: (withdrawn 7, stopped 8, refused 3).
HISTORIES = st.one_of(
    dossier_histories(CODES, weights={"complete": 5, "claim": 1, "deputy": 1}, max_actions=25),
    dossier_histories(CODES, weights={"withdraw": 1, "refuse": 1, "deputy": 1}, max_actions=20),
)


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    @hookimpl
    def portal_record_changed(self, record: dict, progress: list) -> None:
        self.seen.append((record, progress))


def changes(rows: tuple) -> bool:
    """Whether audit rows hold an event the portal payload shows (a join row does not)."""
    return any(
        r["event"] in portal.CHANGES and (r["event"] != "handoff" or r["to_unit"]) for r in rows
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(HISTORIES)
def test_the_hook_sees_each_change_with_the_record_the_store_holds(history: History) -> None:
    clock = FixedClock(vn(2025, 3, 3, 9, 0))
    calls = Calls()
    engine = make_test_engine(AGENCIES, calls, clock=clock, processes=[PROCESSES])
    player = Player(engine, clock, history.procedure, channel=history.channel)
    received = player.receive(history.start)
    code = received.code
    steps = [(received.received.audit, 0, len(calls.seen))]
    for action in history.actions:
        n = len(calls.seen)
        applied = player.apply(action)
        steps.append((applied.audit, n, len(calls.seen)))
    for rows, before, after in steps:
        assert (after > before) == changes(rows), [r["event"] for r in rows]
    # Whatever the history, what the plugin got last is what the store holds now.
    assert calls.seen, "a receipt is a change"
    record, progress = calls.seen[-1]
    assert record == portal.portal_record(engine, code)
    assert progress == portal.progress_records(engine, code)
    for r, p in calls.seen:
        check_shape(r, p)
    # The replay of the audit ends where the dossier row stands.
    d = engine.dossier(code)
    [*_, last] = portal.timeline(portal.read(engine, code))
    assert (last.status, last.appointment) == (d.status, d.appointment)
    engine.close()
