"""lienthong.toml (lienthong.config): found, read, checked; what it sets reaches the commands,
the command line overrides it, the environment's secrets override it; a key it does not know
is refused with the nearest known one, as in the organisation file."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lienthong import ConfigError, Engine, FixedClock, Organisation, OrganisationError
from lienthong.cli import main
from lienthong.config import SCHEMA, TEMPLATE, Config
from lienthong.demo import DEMO_ORG
from support import ARCHIVE, vn

KEYS = [(t, k) for t, v in SCHEMA.items() if isinstance(v, dict) for k in v] + [
    ("", k) for k, v in SCHEMA.items() if not isinstance(v, dict)
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LIENTHONG_CONFIG", "LIENTHONG_DB", "LIENTHONG_PLUGINS", "LIENTHONG_ANCHOR_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str, name: str = "lienthong.toml") -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def test_the_template_reads_back_and_names_every_key(folder: Path) -> None:
    config = Config.load(write(folder, TEMPLATE))
    assert config.get("scripts.mode") == "restricted" and config.get("work.limit") == 100
    assert config.plugins == ()  # an explicit, empty list: a deployment lists what it runs
    for table, key in KEYS:
        assert f"[{table}]" in TEMPLATE if table else True
        # A key, or a table of its own ([services.timeouts], [lint]), commented or not.
        assert f"{key} =" in TEMPLATE or f"[{table}.{key}]" in TEMPLATE or (
            f"[{key}]" in TEMPLATE), key


def test_no_file_is_every_default(folder: Path) -> None:
    config = Config.find()
    assert config.path is None and config.values == {} and config.plugins is None
    assert config.engine_options() == {}


def test_found_given_or_named_by_the_environment(folder: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write(folder, 'database = "here.db"\n')
    other = write(folder, 'database = "there.db"\n', "other.toml")
    def db(config: Config) -> Path:
        assert config.database is not None
        return Path(config.database).resolve()

    assert db(Config.find()) == folder / "here.db"
    assert db(Config.find(other)) == folder / "there.db"
    monkeypatch.setenv("LIENTHONG_CONFIG", str(other))
    assert db(Config.find()) == folder / "there.db"
    monkeypatch.setenv("LIENTHONG_DB", "/secret/place.db")  # a secret: over the file
    assert Config.find().database == "/secret/place.db"


def test_paths_are_relative_to_the_file(folder: Path) -> None:
    sub = folder / "etc"
    sub.mkdir()
    p = write(sub, 'database = "db/x.db"\norganisation = "/abs/org.toml"\n'
              '[calendar]\noverlays = ["tinh.toml"]\n')
    config = Config.load(p)
    assert config.get("database") == str(sub / "db" / "x.db")
    assert config.get("organisation") == "/abs/org.toml"
    assert config.get("calendar.overlays") == [str(sub / "tinh.toml")]


def test_a_database_address_is_kept_as_written(folder: Path) -> None:
    url = "postgresql://lienthong@db.example/lienthong?schema=mau"
    config = Config.load(write(folder, f'database = "{url}"\n'))
    assert config.database == url


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('organization = "o.toml"\n',
         "unknown key 'organization'; did you mean 'organisation'?"),
        ("[work]\nlimt = 3\n", "unknown key 'limt' in [work]; did you mean 'limit'?"),
        ("[wrok]\nlimit = 3\n", "unknown key 'wrok'; did you mean 'work'?"),
        ('[scripts]\nmode = "pyhton"\n',
         "[scripts] mode: 'pyhton' is not one of restricted, python; did you mean 'python'?"),
        ("[work]\nlimit = 0\n", "[work] limit: expected a whole number of at least 1, got 0"),
        ("[work]\nlimit = 2.5\n", "[work] limit: expected a whole number of at least 1"),
        ("[tick]\nevery = -1\n", "[tick] every: expected a number above 0, got -1"),
        ('[tick]\nevery = "60"\n', "[tick] every: expected a number above 0, got '60'"),
        ('plugins = "police"\n', "plugins: expected a list of texts, got 'police'"),
        ("database = 3\n", "database: expected a path (text), got 3"),
        ("work = 3\n", "work: expected a table ([work]), got 3"),
        ('[services.timeouts]\n"police.record_residence" = 0\n',
         "[services] timeouts.police.record_residence: expected a number above 0"),
        ("database = \n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(folder: Path, text: str,
                                                          words: str) -> None:
    p = write(folder, text)
    with pytest.raises(ConfigError) as e:
        Config.load(p)
    assert str(e.value).startswith(f"{p}: ") and words in str(e.value)


@given(st.sampled_from(KEYS), st.integers(0, 20), st.sampled_from(string.ascii_lowercase))
def test_any_one_letter_misspelling_is_refused_and_the_key_suggested(
    where: tuple[str, str], at: int, letter: str
) -> None:
    """Whatever key, whatever letter swapped in: refused, and the key meant is suggested when
    the misspelling is nearer it than any other key."""
    import difflib

    table, key = where
    i = at % len(key)
    wrong = key[:i] + letter + key[i + 1:]
    known = SCHEMA[table] if table else SCHEMA
    if wrong in known:
        return
    text = (f"[{table}]\n" if table else "") + f"{wrong} = 1\n"
    with pytest.raises(ConfigError, match=f"unknown key {wrong!r}") as e:
        Config.parse(text)
    nearest = difflib.get_close_matches(wrong, sorted(known), n=1)
    if nearest:
        assert f"did you mean {nearest[0]!r}?" in str(e.value)


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        (("parent =", "parnet ="), "unknown key 'parnet'; did you mean 'parent'?"),
        (("roles =", "role ="), "unknown key 'role'; did you mean 'roles'?"),
        (("[[officer]]", "[[oficer]]"), "unknown table 'oficer'; did you mean 'officer'?"),
        (("title =", "titel ="), "[[officer]] #1: unknown key 'titel'; did you mean 'title'?"),
    ],
)
def test_the_organisation_file_refuses_unknown_keys_too(folder: Path, mistake: tuple[str, str],
                                                        words: str) -> None:
    text = DEMO_ORG.read_text(encoding="utf-8")
    assert mistake[0] in text
    p = write(folder, text.replace(*mistake, 1), "org.toml")
    with pytest.raises(OrganisationError) as e:
        Organisation.from_file(p)
    assert str(e.value).startswith(f"{p}: ") and words in str(e.value)


def test_engine_options_build_the_engine_the_file_describes(folder: Path) -> None:
    overlay = write(folder, '[[day_off]]\ndate = "2025-03-05"\nname = "Ngày nghỉ của tỉnh"\n'
                    'source = "Quyết định 1/QĐ-UBND"\n', "tinh.toml")
    write(folder, f'database = "p.db"\norganisation = "{DEMO_ORG}"\nplugins = []\n'
          f'[calendar]\noverlays = ["{overlay.name}"]\n[scripts]\ntime_budget = 0.5\n'
          '[services]\nattempts = 3\n')
    options = Config.find().engine_options(clock=FixedClock(vn(2025, 3, 4, 9, 0)))
    assert Path(options["db"]).resolve() == folder / "p.db"
    assert options["enabled_plugins"] == ()
    assert options["service_attempts"] == 3
    with Engine(**options) as engine:
        assert not engine.calendar.is_working_day(vn(2025, 3, 5, 9, 0).date())
        assert engine.load_procedure(ARCHIVE).code == "1.013932"
        assert engine.pm.get_plugin("province-calendar") is None


def test_every_command_reads_it_and_the_command_line_overrides_it(folder: Path) -> None:
    with Engine(folder / "a.db", org=DEMO_ORG, entry_points=False) as e:
        e.load_procedure(ARCHIVE)
    write(folder, 'database = "a.db"\n')
    assert CliRunner().invoke(main, ["dossiers"]).exit_code == 0  # a.db, from the file
    missing = CliRunner().invoke(main, ["dossiers", "--db", "b.db"])
    assert missing.exit_code == 1 and "b.db: no such database file" in missing.output
    other = write(folder, 'database = "c.db"\n', "other.toml")
    given_file = CliRunner().invoke(main, ["--config", str(other), "dossiers"])
    assert given_file.exit_code == 1 and "c.db: no such database file" in given_file.output


def test_a_bad_file_stops_the_commands_in_one_line_and_changes_nothing(folder: Path) -> None:
    with Engine(folder / "a.db", org=DEMO_ORG, entry_points=False) as e:
        e.load_procedure(ARCHIVE)
    before = (folder / "a.db").read_bytes()
    p = write(folder, 'database = "a.db"\norganization = "x.toml"\n')
    for args in (["dossiers"], ["tick"], ["plugins"], ["dossier", "show", "X"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, args
        assert result.output.strip() == (
            f"Error: {p.name}: unknown key 'organization'; did you mean 'organisation'? "
            f"(known: {', '.join(SCHEMA)})"
        ), args
    assert (folder / "a.db").read_bytes() == before
    # What needs no configuration still runs: writing a new one is refused, not broken.
    assert "exists already" in CliRunner().invoke(main, ["init"]).output
