"""The organisation in the database (tổ chức: đơn vị, cán bộ): stored by the Engine, versioned
as procedures are, read back losslessly; names of units and officers for the control sheet and
the reports, an officer who left still under the name they had; ``dossier show`` without
``--org``."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lienthong import (
    Delegation,
    Engine,
    FixedClock,
    Officer,
    Organisation,
    OrganisationError,
    OrganisationNotStored,
    Unit,
    hookimpl,
)
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ
from lienthong.org import canonical_bytes, data_version
from lienthong.plaindata import check_plain
from lienthong.store import Store, orgs
from lienthong.store.stores import open_store
from lienthong.testing.databases import query, store_for
from support import DESK, PROCESSES, FakeAgencies, receive_birth, run_to_end, vn

CLERK = "nguyen.thu.ha"  # a desk officer who is no unit's head or deputy: free to leave

# -- generated organisations ---------------------------------------------------------------------
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)  # any UTF-8 text
_CODE = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
# A unit code begins its dossiers' codes: ASCII letters, digits, '.', '-', '_' (org.py).
_UNIT_CODE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,5}", fullmatch=True)
# Fixed offsets (and Vietnam's, fixed since 1975): a delegation's end is after its start in
# wall time and in absolute time alike.
_ZONES = st.sampled_from(
    [VN_TZ, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=45))]
)


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    """Unit forests (a parent is an earlier unit), officers in them, heads and deputies among
    them, delegations from a unit's leadership, instants in several zones."""
    codes = draw(st.lists(_UNIT_CODE, min_size=1, max_size=6, unique=True))
    ids = draw(st.lists(_CODE, max_size=8, unique=True))
    officers = [
        Officer(id=i, name=draw(_TEXT), unit=draw(st.sampled_from(codes)), title=draw(_TEXT))
        for i in ids
    ]
    someone = st.sampled_from(ids) if ids else st.nothing()
    units = [
        Unit(
            code=c,
            name=draw(_TEXT),
            parent=draw(st.sampled_from([None, ""]) | st.sampled_from(codes[:k]))
            if k
            else draw(st.sampled_from([None, ""])),
            roles=tuple(draw(st.lists(_TEXT, max_size=3))),
            head=draw(st.none() | someone),
            deputies=tuple(draw(st.lists(someone, max_size=2 if ids else 0))),
        )
        for k, c in enumerate(codes)
    ]
    leaders = [(u.code, w) for u in units for w in ([u.head] if u.head else []) + [*u.deputies]]
    delegations = []
    if leaders and len(ids) > 1:
        for _ in range(draw(st.integers(0, 3))):
            unit, by = draw(st.sampled_from(leaders))
            start = draw(st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=_ZONES))
            length = draw(st.timedeltas(timedelta(microseconds=1), timedelta(days=400)))
            delegations.append(
                Delegation(
                    from_officer=by,
                    to_officer=draw(st.sampled_from([i for i in ids if i != by])),
                    unit=unit,
                    valid_from=start,
                    valid_to=start + length,
                    reference=draw(_TEXT),
                )
            )
    return Organisation.build(units, officers, delegations)


@settings(max_examples=200, deadline=None)
@given(org=organisations())
def test_an_organisation_comes_back_exactly_from_its_data(org: Organisation) -> None:
    data = org.to_data()
    check_plain(data, "organisation data")
    text = canonical_bytes(data)
    assert json.loads(text) == data
    back = Organisation.from_data(json.loads(text))
    assert back == org
    # Order is part of it (file order for roles, members and delegations), and the instants.
    assert list(back.units) == list(org.units) and list(back.officers) == list(org.officers)
    assert [(d.valid_from, d.valid_to) for d in back.delegations] == [
        (d.valid_from, d.valid_to) for d in org.delegations
    ]
    assert back.version == org.version == data_version(data)
    assert canonical_bytes(back.to_data()) == text


@settings(max_examples=100, deadline=None)
@given(org=organisations(), zone=_ZONES)
def test_the_version_names_the_instants_not_their_zone(org: Organisation, zone: Any) -> None:
    moved = attrs.evolve(
        org,
        delegations=[
            attrs.evolve(d, valid_from=d.valid_from.astimezone(zone), valid_to=d.valid_to)
            for d in org.delegations
        ],
    )
    assert moved.version == org.version


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions=st.lists(organisations(), min_size=1, max_size=3), repeat=st.booleans())
def test_names_merge_every_version_the_latest_current_winning(
    versions: list[Organisation], repeat: bool
) -> None:
    loaded = [*versions, versions[0]] if repeat else versions  # A, B, A: A is current again
    store = Store(":memory:")
    for i, org in enumerate(loaded):
        with store.transaction() as db:
            orgs.save(db, org.to_data(), org.version, f"2025-03-0{i + 1}T08:00:00+07:00")
    # The oracle: each version at the place it last became current; per id, the last of those
    # that lists it.
    order: list[Organisation] = []
    for org in loaded:
        order = [o for o in order if o.version != org.version] + [org]
    expected_units = {c: u.name for o in order for c, u in o.units.items()}
    expected_officers = {i: (x.name, x.unit) for o in order for i, x in o.officers.items()}
    names = orgs.names(store.db)
    assert names.units == expected_units
    assert {i: (names.officers[i], names.officer_units[i]) for i in names.officers} == (
        expected_officers
    )
    assert [v.version for v in orgs.all_versions(store.db)] == [o.version for o in order]
    current = orgs.current(store.db)
    assert current is not None and Organisation.from_data(current) == loaded[-1]
    store.close()


# -- bad data ------------------------------------------------------------------------------------
def _demo_data() -> dict[str, Any]:
    return Organisation.from_file(DEMO_ORG).to_data()


def _changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = _demo_data()
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], ["expected a mapping"]),
        (_changed(lambda d: d.update(format=2)), ["format 2"]),
        (_changed(lambda d: d.update(extra=1)), ["unknown key(s) extra"]),
        (_changed(lambda d: d.pop("officers")), ["missing officers"]),
        (_changed(lambda d: d.update(units={})), ["units: expected a list"]),
        (_changed(lambda d: d["units"][1].update(name=3)), ["units[1].name", "expected text"]),
        (_changed(lambda d: d["units"][0].update(roles="desk")), ["units[0].roles"]),
        (_changed(lambda d: d["officers"][2].pop("title")), ["officers[2]", "missing title"]),
        (
            _changed(lambda d: d["officers"][0].update(unit="NOWHERE")),
            ["officer nguyen.van.thanh", "'NOWHERE' is not a unit"],
        ),
        (
            _changed(
                lambda d: d["delegations"].append(
                    {
                        "from_officer": "tran.thi.mai",
                        "to_officer": CLERK,
                        "unit": DESK,
                        "valid_from": "2025-03-03T08:00:00",
                        "valid_to": "2025-03-04T08:00:00+07:00",
                        "reference": "",
                    }
                )
            ),
            ["delegations[0].valid_from", "with offset"],
        ),
    ],
)
def test_bad_organisation_data_is_refused_naming_the_entry(data: Any, words: list[str]) -> None:
    with pytest.raises(OrganisationError) as info:
        Organisation.from_data(data, where="stored organisation X")
    assert str(info.value).startswith("stored organisation X: ")
    for w in words:
        assert w in str(info.value)


def test_what_could_not_be_stored_is_refused_before_the_engine_opens(
    tmp_path: Path, clock: FixedClock
) -> None:
    org = Organisation.from_file(DEMO_ORG)
    unit = org.units[DESK]
    surrogate = Organisation.build(
        [attrs.evolve(unit, name="Trung t\udcffm"), *(u for u in org.units.values() if u != unit)],
        org.officers.values(),
    )
    with pytest.raises(OrganisationError, match=rf"unit '{DESK}': name: .*lone surrogate"):
        surrogate.to_data()
    number = Organisation.build([Unit(code=7, name="Bảy")], [])  # type: ignore[arg-type]
    with pytest.raises(OrganisationError, match="unit 7: code: expected text, got int 7"):
        Engine(tmp_path / "x.db", org=number, clock=clock, entry_points=False)
    with pytest.raises(OrganisationError, match="'A' is keyed 'B'"):
        Organisation(units={"B": Unit(code="A", name="a")}, officers={})


@pytest.mark.parametrize("code", ["000.00.01 H29", "000.00.01.H29\t", "Sở.01", "-01"])
def test_a_unit_code_that_could_not_begin_a_dossier_code_is_refused(
    code: str, tmp_path: Path
) -> None:
    """A unit code begins the codes of the dossiers it receives: a space, a control character or
    a Vietnamese letter there is refused when the organisation is read, naming the unit."""
    text = DEMO_ORG.read_text(encoding="utf-8").replace(DESK, code.replace("\t", "\\t"))
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OrganisationError, match=rf"unit {re.escape(repr(code))}: a unit code is"):
        Organisation.from_file(path)


# -- the Engine stores it ------------------------------------------------------------------------
def _without_clerk(org: Organisation, desk_name: str = "") -> Organisation:
    units = [
        attrs.evolve(u, name=desk_name) if desk_name and u.code == DESK else u
        for u in org.units.values()
    ]
    return Organisation.build(units, [o for o in org.officers.values() if o.id != CLERK])


def _rows(path: Path) -> list[tuple[str, str, int]]:
    found = query(path, "SELECT version, loaded_at, seq FROM organisations ORDER BY seq")
    return [(str(v), str(at), int(seq)) for v, at, seq in found]  # type: ignore[call-overload]


def test_versions_are_stored_once_and_names_outlive_a_leaver(
    make_engine: Callable[..., Engine], org: Organisation, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    make_engine(path).close()
    clock.advance(hours=1)
    make_engine(path).close()  # the same organisation again: nothing new
    [(first, loaded_at, _)] = _rows(path)
    assert first == org.version and loaded_at == "2025-03-03T09:00:00+07:00"

    later = _without_clerk(org, desk_name="Trung tâm Phục vụ hành chính công tỉnh Mẫu")
    make_engine(path, org=later).close()
    assert [r[0] for r in _rows(path)] == [org.version, later.version]
    store = open_store(store_for(path))
    names = orgs.names(store.db)
    assert names.officer(CLERK) == "Nguyễn Thu Hà"  # she left; her name stays
    assert names.unit_of(CLERK) == DESK
    assert names.unit(DESK) == "Trung tâm Phục vụ hành chính công tỉnh Mẫu"  # the newer name
    assert names.unit("NO.SUCH") == "NO.SUCH" and names.officer("nobody") == "nobody"
    store.close()

    clock.advance(hours=1)
    make_engine(path).close()  # back to the first file: current again, not stored twice
    assert [(r[0], r[1]) for r in _rows(path)] == [
        (later.version, "2025-03-03T10:00:00+07:00"),
        (org.version, "2025-03-03T11:00:00+07:00"),
    ]
    with make_engine(path, org=None) as engine:
        assert engine.org == org
        assert list(engine.org.units) == list(org.units)


def test_an_engine_given_no_organisation_runs_with_the_stored_one(
    make_engine: Callable[..., Engine], org: Organisation, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    first = make_engine(path)
    first.load_procedures(PROCESSES)
    code = receive_birth(first).code
    first.close()
    before = _rows(path)
    engine = make_engine(path, org=None)
    assert engine.org == org and _rows(path) == before
    [reception] = engine.open_steps(dossier=code)
    engine.complete(code, reception.id, CLERK)
    run_to_end(engine, code, clock)
    assert engine.dossier(code).is_closed


def test_no_stored_organisation_and_none_given_is_a_clear_error(
    tmp_path: Path, clock: FixedClock
) -> None:
    with pytest.raises(OrganisationNotStored, match=r":memory:: no organisation is stored.*org="):
        Engine(":memory:", clock=clock, entry_points=False)
    path = tmp_path / "new.db"
    with pytest.raises(OrganisationNotStored, match=rf"{re.escape(str(path))}: no organisation"):
        Engine(path, clock=clock, entry_points=False)
    Engine(path, org=DEMO_ORG, clock=clock, entry_points=False).close()  # not left locked


class CommuneStaff:
    """A vertical agency's plugin adding a unit and an officer."""

    def __init__(self, name: str = "Văn phòng xã") -> None:
        self.name = name

    @hookimpl
    def organisation_units(self) -> list[Unit | Officer]:
        return [
            Unit(code="X.VP", name=self.name, parent="000.00.41.H29", head="x.yen"),
            Officer(id="x.yen", name="Phùng Thị Yến", unit="X.VP"),
        ]


def test_plugins_units_are_stored_and_given_again_in_their_place(
    make_engine: Callable[..., Engine], org: Organisation, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    make_engine(path, plugins=[CommuneStaff()]).close()
    [(with_staff, _, _)] = _rows(path)
    again = make_engine(path, org=None, plugins=[CommuneStaff()])  # no "listed twice"
    assert again.org.unit("X.VP").head == "x.yen" and again.org.version == with_staff
    again.close()
    assert len(_rows(path)) == 1
    renamed = make_engine(path, org=None, plugins=[CommuneStaff("Văn phòng – Thống kê xã")])
    assert renamed.org.unit("X.VP").name == "Văn phòng – Thống kê xã"
    assert list(renamed.org.units) == [*org.units, "X.VP"]  # in its place, not twice
    renamed.close()
    assert len(_rows(path)) == 2
    with pytest.raises(OrganisationError, match=r"'X\.VP' is listed twice"):
        make_engine(path, org=Organisation.from_data(orgs_current(path)), plugins=[CommuneStaff()])


def orgs_current(path: Path) -> dict[str, Any]:
    store = open_store(store_for(path))
    data = orgs.current(store.db)
    store.close()
    assert data is not None
    return data


@pytest.mark.sqlite_only  # edits the file with sqlite3
def test_a_damaged_stored_organisation_is_named(
    make_engine: Callable[..., Engine], org: Organisation, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    make_engine(path).close()
    broken = org.to_data()
    broken["officers"][0]["unit"] = "GONE"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE organisations SET data = ?", [json.dumps(broken)])
    conn.close()
    with pytest.raises(OrganisationError, match=rf"stored organisation {org.version}: .*'GONE'"):
        make_engine(path, org=None)


def test_saving_checks_the_version_and_writes_nothing_twice(org: Organisation) -> None:
    store = Store(":memory:")
    with store.transaction() as db:
        assert orgs.save(db, org.to_data(), org.version, "2025-03-03T08:00:00+07:00")
        assert not orgs.save(db, org.to_data(), org.version, "2025-03-04T08:00:00+07:00")
        with pytest.raises(Exception, match="is not the hash of its data"):
            orgs.save(db, org.to_data(), "0" * 64, "2025-03-04T08:00:00+07:00")
    [stored] = orgs.all_versions(store.db)
    assert (stored.version, stored.loaded_at, stored.seq) == (org.version, vn(2025, 3, 3, 8), 1)
    assert orgs.data_of(store.db, org.version) == org.to_data()
    assert orgs.data_of(store.db, "f" * 64) is None
    store.close()


# -- the control sheet and the command line ------------------------------------------------------
def _worked_dossier(make_engine: Callable[..., Engine], path: Path, clock: FixedClock) -> str:
    engine = make_engine(path)
    engine.load_procedures(PROCESSES)
    code = receive_birth(engine).code
    [reception] = engine.open_steps(dossier=code)
    engine.complete(code, reception.id, CLERK)
    run_to_end(engine, code, clock)
    engine.close()
    return code


def test_the_control_sheet_names_an_officer_who_left(
    make_engine: Callable[..., Engine], org: Organisation, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    code = _worked_dossier(make_engine, path, clock)
    engine = make_engine(path, org=_without_clerk(org))
    assert CLERK not in engine.org.officers
    sheet = engine.control_sheet(code)
    assert "Nguyễn Thu Hà" in {r.giver_officer for r in sheet.rows}
    assert CLERK not in sheet.render()


def test_dossier_show_needs_no_org_on_a_database_an_engine_wrote(
    make_engine: Callable[..., Engine], org: Organisation, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "lienthong.db"
    code = _worked_dossier(make_engine, path, clock)
    # The province renames its desk and the clerk leaves: not the demo's organisation any more.
    make_engine(path, org=_without_clerk(org, desk_name="Trung tâm Hành chính công Mẫu")).close()
    store = open_store(store_for(path))
    before = snapshot_of(store)
    store.close()
    result = CliRunner().invoke(main, ["dossier", "show", code, "--db", store_for(path)])
    assert result.exit_code == 0, result.output
    assert f"Trung tâm Hành chính công Mẫu ({DESK})" in result.output
    assert "Nguyễn Thu Hà" in result.output and CLERK not in result.output
    store = open_store(store_for(path))
    assert snapshot_of(store) == before  # showing stored nothing
    store.close()


def snapshot_of(store: Store) -> str:
    return "\n".join(store.db.conn.iterdump())


def _old_database(make_engine: Callable[..., Engine], path: Path, clock: FixedClock) -> str:
    """A database as lienthong wrote it before migration 006: no organisation kept."""
    code = _worked_dossier(make_engine, path, clock)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE organisations")
        conn.execute("DROP TABLE organisation_names")
        conn.execute("DELETE FROM _migrations WHERE name = '006_organisations'")
    conn.close()
    return code


@pytest.mark.sqlite_only  # rewrites an old SQLite file
@pytest.mark.parametrize("command", [["dossier", "show", "{code}"], ["work", "--once"]])
def test_an_old_database_without_org_is_one_line_asking_for_it(
    make_engine: Callable[..., Engine], clock: FixedClock, tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "old.db"
    code = _old_database(make_engine, path, clock)
    args = [a.format(code=code) for a in command]
    result = CliRunner().invoke(main, [*args, "--db", store_for(path)])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {path}: no organisation is stored") and "--org FILE" in line
    assert "Traceback" not in result.output
    shown = CliRunner().invoke(main, [*args, "--db", store_for(path), "--org", str(DEMO_ORG)])
    assert shown.exit_code == 0, shown.output
    # Given once, it is kept: the next time needs no --org.
    again = CliRunner().invoke(main, [*args, "--db", store_for(path)])
    assert again.exit_code == 0, again.output
    assert again.output == shown.output


def test_the_engine_can_name_its_own_organisation_first(
    make_engine: Callable[..., Engine], org: Organisation, clock: FixedClock, tmp_path: Path
) -> None:
    # Two engines on one file with two organisations: each sheet uses its own engine's names,
    # the stored ones only for what its organisation does not list.
    path = tmp_path / "lienthong.db"
    code = _worked_dossier(make_engine, path, clock)
    renamed = _without_clerk(org, desk_name="Bộ phận Một cửa tỉnh")
    older = make_engine(path)
    newer = make_engine(path, org=renamed, plugins=[FakeAgencies()])
    assert f"Bộ phận Một cửa tỉnh ({DESK})" in newer.control_sheet(code).render()
    assert f"{org.units[DESK].name} ({DESK})" in older.control_sheet(code).render()
    assert orgs.current_version(older.db) == renamed.version
