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


def test_the_dashboard_prints_the_accountability_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo.db", dossiers=80, weeks=3, out=lines.append)
    try:
        db = result.engine.db
        text = "\n".join(lines)
        for heading in (
            "Kết quả xử lý theo cán bộ",
            "Hồ sơ quá hạn và xin lỗi",
            "Hồ sơ bị trả lại yêu cầu bổ sung từ 2 lần",
            "Bước xử lý theo đơn vị",
        ):
            assert heading in text
        # Every officer who finished a step has a row, under their name.
        for (officer,) in db.execute(
            "SELECT DISTINCT closed_by FROM steps WHERE status = 'done' AND kind = 'user'"
        ).fetchall():
            assert result.engine.org.officer(officer).name in text
        # Procedure names whole (wrapped at spaces, never cut inside a word).
        joined = " ".join(line.strip() for line in lines)
        for (name,) in db.execute("SELECT DISTINCT name FROM procedures").fetchall():
            assert name in joined
        # Results handed over (status 10) and sent back for a supplement are told apart.
        handed = db.execute("SELECT count(*) FROM dossiers WHERE status = 10").fetchone()[0]
        handovers = db.execute("SELECT count(*) FROM audit WHERE event = 'returned'").fetchone()[0]
        assert f"trả kết quả (results handed over) {handovers}," in text
        assert "(results handed over)" in text and handed > 0
        twice = {
            code
            for code, n in db.execute(
                "SELECT dossier, count(*) FROM audit WHERE event = 'supplement_requested' "
                "GROUP BY dossier"
            ).fetchall()
            if n >= 2
        }
        listed = {line.split()[0] for line in lines if line.startswith("  000.")}
        assert listed == twice and twice
        assert f"twice or more: {len(twice)};" in text
    finally:
        result.engine.close()


def test_from_a_bare_install_the_missing_operations_are_stubbed_in_one_line(
    tmp_path: Path,
) -> None:
    """No example plugin loaded (as from the wheel alone): the sample procedures still load,
    their agency calls answered by the demo's stubs, and one line of the output says so."""
    lines: list[str] = []
    result = run_demo(tmp_path / "bare.db", dossiers=8, weeks=1, out=lines.append,
                      entry_points=False)
    try:
        said = [line for line in lines if "Stubbed" in line]
        assert said == [
            "Stubbed (their plugins are not installed): police.record_residence, "
            "social_insurance.issue_card, tax.register_household; install plugins/* for the "
            "example agencies' own results."
        ]
        assert result.engine.verify_audit().ok
        # The stub's result is what the service steps recorded.
        data = {r[0] for r in result.engine.db.execute(
            "SELECT data FROM steps WHERE kind = 'service' AND status = 'done'")}
        assert data and all("demo_stub" in d for d in data)
    finally:
        result.engine.close()


def test_the_stubs_stand_in_only_for_what_is_missing(tmp_path: Path) -> None:
    from lienthong import hookimpl

    class Police:
        @hookimpl
        def operations(self) -> list[str]:
            return ["police.record_residence"]

        @hookimpl
        def perform_operation(self, operation: str) -> dict[str, object] | None:
            return {"residence_recorded": True} if operation == "police.record_residence" else None

    lines: list[str] = []
    result = run_demo(tmp_path / "some.db", dossiers=3, weeks=1, out=lines.append,
                      entry_points=False, plugins=(Police(),))
    result.engine.close()
    [said] = [line for line in lines if "Stubbed" in line]
    assert "police" not in said and "social_insurance.issue_card" in said


@pytest.mark.parametrize("when", [0, 5])
def test_a_failed_demo_leaves_no_database_behind(tmp_path: Path, when: int) -> None:
    def fail(done: int, total: int) -> None:
        if done >= when:
            raise KeyboardInterrupt  # Ctrl-C, say, or anything else going wrong

    db = tmp_path / "half.db"
    with pytest.raises(KeyboardInterrupt):
        run_demo(db, dossiers=5, weeks=1, out=lambda _l: None, progress=fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_demo_keeps_a_file_it_did_not_create(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    db.write_bytes(b"")
    with pytest.raises(KeyboardInterrupt):
        run_demo(db, dossiers=5, weeks=1, out=lambda _l: None, fresh=False,
                 progress=lambda d, t: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert db.exists()
