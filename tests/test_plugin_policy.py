"""Example plugins never change a real deployment (docs/plugins.md, "Which plugins load").

The province-calendar example (the fictitious Tỉnh Mẫu's days off, 23–24/3/2026) declares itself
for the demo organisation only: installed, it is active for an Engine of the demo organisation,
or when a deployment's list names it, never otherwise; ``lienthong calendar due`` counts what
such an Engine counts; a deployment's list loads exactly the plugins named.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong import Engine, FixedClock, Organisation, PluginError, Unit
from lienthong.cli import main
from lienthong.demo import DEMO_ORG
from lienthong.legaltime.clock import VN_TZ

ROOT = Path(__file__).resolve().parents[1]
FRIDAY = datetime(2026, 3, 20, 9, 0, tzinfo=VN_TZ)
OFF = (date(2026, 3, 23), date(2026, 3, 24))  # Tỉnh Mẫu's liberation days, fictitious


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, module: str) -> None:
    """An entry point ``name`` -> ``module`` in a throw-away distribution on ``sys.path``."""
    info = tmp_path / f"{module}_t-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: lienthong-{module}-t\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[lienthong]\n{name} = {module}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The province-calendar example installed (from this checkout), nothing else selected."""
    monkeypatch.syspath_prepend(str(ROOT / "plugins" / "province-calendar" / "src"))
    install(tmp_path / "site", monkeypatch, "province-calendar", "lienthong_province_calendar")
    monkeypatch.delenv("LIENTHONG_PLUGINS", raising=False)
    monkeypatch.delenv("LIENTHONG_CONFIG", raising=False)
    monkeypatch.delenv("LIENTHONG_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def province_org() -> Organisation:
    """Another province: the demo's units, but not the demo's organisation."""
    demo = Organisation.from_file(DEMO_ORG)
    return demo.with_entries([Unit(code="000.00.99.H29", name="Sở mới", parent="000.00.00.H29")])


def engine(org: Organisation | str | Path | None, db: str | Path = ":memory:", **kw) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(db, org=org, clock=FixedClock(FRIDAY), **kw)


def test_another_province_counts_the_demo_days_as_working_days(examples: Path) -> None:
    with engine(province_org()) as e:
        assert "province-calendar" not in {e.pm.get_name(p) for p in e.pm.get_plugins()}
        assert all(e.calendar.is_working_day(d) for d in OFF)
        assert e.calendar.add(FRIDAY, days=2) == datetime(2026, 3, 24, 9, 0, tzinfo=VN_TZ)


def test_the_demo_organisation_gets_its_days_off(examples: Path) -> None:
    with engine(DEMO_ORG) as e:
        assert not any(e.calendar.is_working_day(d) for d in OFF)
        assert e.calendar.add(FRIDAY, days=2) == datetime(2026, 3, 26, 9, 0, tzinfo=VN_TZ)


def test_a_database_that_holds_the_demo_organisation_is_the_demos(examples: Path) -> None:
    engine(DEMO_ORG, examples / "demo.db").close()
    engine(province_org(), examples / "real.db").close()
    with engine(None, examples / "demo.db") as e:
        assert not e.calendar.is_working_day(OFF[0])
    with engine(None, examples / "real.db") as e:
        assert e.calendar.is_working_day(OFF[0])


def test_named_in_the_list_it_applies_to_any_organisation(examples: Path) -> None:
    with engine(province_org(), enabled_plugins=["province-calendar"]) as e:
        assert not e.calendar.is_working_day(OFF[0])
    with engine(DEMO_ORG, enabled_plugins=[]) as e:  # an empty list: none, even for the demo
        assert e.calendar.is_working_day(OFF[0])


def test_a_name_not_installed_is_refused_with_the_nearest(examples: Path) -> None:
    with pytest.raises(PluginError, match=r"plugin 'province-calender' is not installed; did you "
                       r"mean 'province-calendar'\?"):
        engine(province_org(), enabled_plugins=["province-calender"])


@pytest.mark.parametrize("bad", ["province-calendar", 3, [3]])
def test_a_list_that_is_not_names_is_refused(examples: Path, bad: object) -> None:
    from lienthong import InvalidData

    with pytest.raises(InvalidData, match="enabled_plugins"):
        engine(province_org(), enabled_plugins=bad)  # type: ignore[arg-type]


def _due(*args: str) -> str:
    result = CliRunner().invoke(main, ["calendar", "due", "2026-03-20T09:00", "--days", "2",
                                       *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_calendar_due_agrees_with_the_engine(examples: Path) -> None:
    engine(province_org(), examples / "real.db").close()
    engine(DEMO_ORG, examples / "demo.db").close()
    for db, org in (("real.db", province_org()), ("demo.db", DEMO_ORG)):
        with engine(None, examples / db) as e:
            assert _due("--db", db) == e.calendar.add(FRIDAY, days=2).isoformat()
            assert org is not None
    assert _due("--db", "real.db") == "2026-03-24T09:00:00+07:00"
    assert _due("--db", "demo.db") == "2026-03-26T09:00:00+07:00"
    # A configuration naming the plugin: both count the province's days off.
    (examples / "lienthong.toml").write_text('plugins = ["province-calendar"]\n'
                                            'database = "real.db"\n', encoding="utf-8")
    from lienthong.config import Config

    with Engine(**Config.find().engine_options(clock=FixedClock(FRIDAY))) as e:
        assert _due() == e.calendar.add(FRIDAY, days=2).isoformat() == "2026-03-26T09:00:00+07:00"


def test_plugins_says_which_are_active_and_why(examples: Path) -> None:
    engine(DEMO_ORG, examples / "demo.db").close()

    def listed(*args: str) -> dict[str, dict[str, object]]:
        result = CliRunner().invoke(main, ["plugins", "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return {p["name"]: p for p in json.loads(result.output)}

    mine = "province-calendar"
    assert listed("--db", "nothere.db")[mine]["active"] is False
    assert "demo only" in str(listed("--db", "nothere.db")[mine]["reason"])
    assert listed("--db", "demo.db")[mine]["active"] is True
    assert listed("--db", "demo.db")["lienthong.default_plugins"]["reason"].startswith("built-in")
    (examples / "lienthong.toml").write_text("plugins = []\n", encoding="utf-8")
    off = listed("--db", "demo.db")[mine]
    assert off["active"] is False and off["reason"] == (
        "not enabled: lienthong.toml does not list it")
    (examples / "lienthong.toml").write_text(f'plugins = ["{mine}"]\n', encoding="utf-8")
    assert listed()[mine]["reason"] == "listed in lienthong.toml"
