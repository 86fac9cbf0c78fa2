"""Two ticks at once on one file fire each action exactly once.

The engine's tick reads what is due without a lock, then takes each action under the store's
write lock after reading its row again (``lienthong.engine.tick``). Two processes tick one file
at the same instant, the second reading what is due while the first holds the lock inside its
work (``tick_workers.py``); together they fire exactly what one tick fires alone, each action
once. Then the same with two ``lienthong tick`` commands at once.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lienthong import Engine, FixedClock, Organisation
from lienthong.demo import DEMO_ORG
from support import FakeAgencies, fill_due_timers, run_processes, vn
from tick_workers import ticker

AT = vn(2025, 4, 21, 10, 0)  # weeks after the dossiers arrived: every timer has fallen due


def _audit(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT event, dossier, step_id, at FROM audit WHERE event NOT IN "
        "('received', 'handoff') ORDER BY id"
    ).fetchall()
    conn.close()
    return rows


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tick-race")
    shared = folder / "shared.db"
    fill_due_timers(shared)
    alone = folder / "alone.db"
    shutil.copyfile(shared, alone)
    return {"shared": shared, "alone": alone, "folder": folder}


def test_two_ticks_at_one_instant_fire_each_action_once(files: dict[str, Path]) -> None:
    with Engine(
        files["alone"],
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(AT),
        plugins=[FakeAgencies()],
        entry_points=False,
    ) as engine:
        expected = sorted(
            (a.isoformat(), kind, code, step) for a, kind, code, step in engine.tick(AT).actions
        )
    kinds = Counter(kind for _at, kind, _code, _step in expected)
    assert kinds["escalated"] and kinds["apology_required"], kinds

    ctx = multiprocessing.get_context("spawn")
    inside, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=ticker, args=(str(files["shared"]), AT.isoformat(), role, inside, out))
        for role in ("first", "second")
    ]
    results = run_processes(procs, out)
    fired = sorted(tuple(a) for r in results for a in r["actions"])
    assert fired == expected  # each action once, between the two of them
    by_role = {r["role"]: r["actions"] for r in results}
    assert by_role["first"], "the first tick fired nothing: the race was not run"
    # The audit holds each action's rows once, as the tick alone wrote them.
    assert Counter(_audit(files["shared"])) == Counter(_audit(files["alone"]))


def test_two_tick_commands_at_once_fire_each_action_once(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    fill_due_timers(db)
    alone = tmp_path / "alone.db"
    shutil.copyfile(db, alone)
    env_cmd = [sys.executable, "-m", "lienthong.cli", "tick", "--format", "json"]
    procs = [
        subprocess.Popen(
            [*env_cmd, "--db", str(db)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    import json

    fired = [tuple(a.values()) for out, _err in outs for a in json.loads(out)["actions"]]
    single = subprocess.run(
        [*env_cmd, "--db", str(alone)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert single.returncode == 0, single.stderr
    expected = [tuple(a.values()) for a in json.loads(single.stdout)["actions"]]
    assert len(expected) > 20
    # The instants the actions fell due are the dossiers', not the wall clock's: the same.
    assert sorted(fired) == sorted(expected)
    assert Counter(_audit(db)) == Counter(_audit(alone))
