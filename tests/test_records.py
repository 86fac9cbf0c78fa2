"""records.evolve is attrs.evolve, faster: the same record for any changes, the same refusal of
a field the record does not have."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.legaltime.clock import VN_TZ
from lienthong.status import Channel, Status
from lienthong.store.records import Dossier, Step, evolve

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=VN_TZ)
DOSSIER = Dossier(
    code="000.00.01.H29-250303-0001",
    procedure_code="233448",
    procedure_version="v1",
    receiving_unit="000.00.01.H29",
    channel=Channel.DIRECT,
    status=Status.ACCEPTED,
    applicant={"name": "A"},
    documents=({"code": "x"},),
    routing={"desk": "000.00.01.H29"},
    arrived_at=T0,
    received_at=T0,
    clock_start=T0,
    appointment=None,
    original_appointment=None,
    resolved_at=None,
    closed_at=None,
    result_class=None,
    note=None,
)
STEP = Step(
    id=7,
    dossier=DOSSIER.code,
    task_id="t",
    spec_id="reception",
    name="Tiếp nhận",
    kind="user",
    step_kind="reception",
    role="desk",
    unit="000.00.01.H29",
    assignee=None,
    status="open",
    opened_at=T0,
    claimed_at=None,
    closed_at=None,
    closed_by=None,
    share_minutes=60,
    due_at=T0 + timedelta(hours=1),
    result_class=None,
    data={},
)
_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.sampled_from([T0, Status.RESOLVED, True])
)


@given(st.data())
def test_evolve_gives_what_attrs_evolve_gives(data: st.DataObject) -> None:
    for record in (DOSSIER, STEP):
        names = [a.name for a in attrs.fields(type(record))]
        changes: dict[str, Any] = data.draw(st.dictionaries(st.sampled_from(names), _VALUES))
        new = evolve(record, **changes)
        assert type(new) is type(record)
        assert new == attrs.evolve(record, **changes)
        for n in names:
            assert getattr(new, n) is (changes[n] if n in changes else getattr(record, n))


def test_evolve_refuses_a_field_the_record_has_not() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(STEP, colour="red")
    assert evolve(STEP) == STEP and evolve(STEP) is not STEP
