"""``lienthong demo``: short runs work, nonsense is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong import LienthongError
from lienthong.cli import main
from lienthong.demo import run_demo


def test_a_one_week_demo_runs(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "one-week.db", dossiers=5, weeks=1, out=lines.append)
    try:
        assert len(result.engine.dossiers()) == 5
        assert result.engine.verify_audit().ok
    finally:
        result.engine.close()


@pytest.mark.parametrize(("weeks", "dossiers"), [(0, 5), (-1, 5), (2, 0)])
def test_no_weeks_or_no_dossiers_is_refused_and_writes_nothing(
    tmp_path: Path, weeks: int, dossiers: int
) -> None:
    db = tmp_path / "none.db"
    with pytest.raises(LienthongError, match="must each be at least 1"):
        run_demo(db, dossiers=dossiers, weeks=weeks, out=lambda _line: None)
    assert not db.exists()


def test_the_command_says_so_in_one_line(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "x.db"), "--weeks", "0"])
    assert out.exit_code != 0
    # click refuses it as a usage error, naming the option.
    assert "--weeks" in out.output and "Traceback" not in out.output
