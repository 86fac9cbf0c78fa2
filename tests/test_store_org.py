"""The store's migrations, and the organisation file's checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lienthong import Engine, Officer, Organisation, OrganisationError, Unit
from lienthong.store import MIGRATIONS, Store
from support import DESK, receive_birth


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    names = [r["name"] for r in store.db["_migrations"].rows]
    assert names == [name for name, _ in MIGRATIONS]
    assert store.migrate() == []
    store.close()
    again = Store(path)
    assert again.migrate() == []
    assert set(again.db.table_names()) >= {"procedures", "dossiers", "dossier_states", "steps",
                                           "audit", "daily_sequence"}
    again.close()


def test_durability_setting_is_checked(tmp_path: Path) -> None:
    from lienthong import LienthongError

    with pytest.raises(LienthongError, match="durability"):
        Store(tmp_path / "x.db", durability="sometimes")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[unit]]\nname = "x"\n', ["[[unit]] #1", "code"]),
        ('[[unit]]\ncode = "A"\nname = "a"\nparent = "B"\n', ["A", "parent 'B'"]),
        ('[[unit]]\ncode = "A"\nname = "a"\nhead = "nobody"\n', ["A", "nobody"]),
        ('[[unit]]\ncode = "A"\nname = "a"\n[[unit]]\ncode = "A"\nname = "b"\n', ["twice"]),
        ('[[unit]]\ncode = "A"\nname = "a"\nparent = "B"\n[[unit]]\ncode = "B"\nname = "b"\n'
         'parent = "A"\n', ["cycle"]),
        ("[[unit]\n", ["not valid TOML"]),
    ],
)
def test_bad_organisation_files(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OrganisationError) as info:
        Organisation.from_file(path)
    assert str(path) in str(info.value)
    for w in words:
        assert w in str(info.value)


def test_role_resolution_prefers_the_nearest_unit(org: Organisation) -> None:
    units = [*org.units.values(),
             Unit(code="X.POLICE", name="Công an xã khác", parent="000.00.60.H29",
                  roles=("police-residence",))]
    two = Organisation.build(units, org.officers.values())
    with pytest.raises(OrganisationError, match="several units"):
        two.resolve_role("police-residence")
    assert two.resolve_role("police-residence", near="X.POLICE").code == "X.POLICE"
    assert org.resolve_role("one-stop-desk").code == DESK
    assert org.may_act_for("tran.thi.mai", DESK)
    assert not org.may_act_for("trieu.thi.hanh", DESK)
    _ = Officer


@pytest.mark.sqlite_only  # SQLite's query plans
def test_queues_and_the_tick_search_indexes_never_scan_steps(engine: Engine) -> None:
    # A province keeps a million open steps: each queue and each due-work query must go through
    # an index (migration 002 made the open-step indexes skip NULL keys; the officer queue is
    # three indexed searches, since SQLite would scan for their OR). The statements checked are
    # the ones the engine runs, as SQLite saw them.
    code = receive_birth(engine, "Vi Văn Tú").code
    officer = engine.org.members(DESK)[0].id
    seen: list[str] = []
    engine.db.conn.set_trace_callback(seen.append)
    engine.open_steps(unit=DESK)
    engine.open_steps(officer=officer)
    engine.open_steps(dossier=code)
    engine.tick(engine.clock.now())
    engine.db.conn.set_trace_callback(None)
    selects = [q for q in seen if q.lstrip().upper().startswith("SELECT") and " steps" in q]
    assert len(selects) >= 5
    for sql in selects:
        plan = " / ".join(r[-1] for r in engine.db.execute("EXPLAIN QUERY PLAN " + sql))
        assert not re.search(r"SCAN (steps|s)\b", plan), (sql, plan)
