"""Dossier codes, ``<unit>-YYMMDD-NNNN``: past 9,999 receipts in a day the number widens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lienthong import Engine, FixedClock
from support import DESK, PROCESSES, officer_of, receive_birth, run_to_end


def test_the_ten_thousandth_dossier_of_a_day_is_numbered_10000(
    make_engine: Callable[..., Engine], tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "busy-day.db"
    engine = make_engine(path)
    engine.load_procedures(PROCESSES)
    assert receive_birth(engine).code == f"{DESK}-250303-0001"
    # 9,999 receipts in a day, without making them: the unit's sequence as they would leave it.
    with engine.store.transaction() as db:
        db.execute(
            "UPDATE daily_sequence SET last = 9999 WHERE unit = ? AND day = '250303'", [DESK]
        )
    big = receive_birth(engine).code
    assert big == f"{DESK}-250303-10000"
    assert receive_birth(engine).code == f"{DESK}-250303-10001"
    # A wide code is a code like any other: its dossier runs to the end and reads back.
    first = engine.open_steps(dossier=big)[0]
    engine.claim(big, first.id, officer_of(engine, first.unit))
    run_to_end(engine, big, clock)
    assert engine.dossier(big).is_closed
    assert engine.control_sheet(big).dossier == big
    assert engine.verify_audit().ok
    # The next day starts again from 0001, four digits wide.
    clock.advance(hours=24)
    assert receive_birth(engine).code == f"{DESK}-250304-0001"
