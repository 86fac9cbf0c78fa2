"""What the processes of ``test_tick_race.py`` run (spawned: see ``concurrency_workers.py``).

Each ticks one shared file at one instant. The first holds the write lock a while inside its
first action (a plugin's ``step_escalated`` that sleeps), having said so, so that the second reads
what is due while the first has not committed: the case where a tick could fire an action the
other has fired.
"""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from typing import Any

from lienthong import Engine, FixedClock, Organisation, hookimpl
from lienthong.demo import DEMO_ORG
from support import FakeAgencies


class Slow:
    """Holds its tick's transaction open at the first escalation, once ``inside`` is set."""

    def __init__(self, inside: Any, seconds: float) -> None:
        self.inside, self.seconds, self.done = inside, seconds, False

    @hookimpl
    def step_escalated(self) -> None:
        if not self.done:
            self.done = True
            self.inside.set()
            time.sleep(self.seconds)


def ticker(path: str, at: str, role: str, inside: Any, out: Any) -> None:
    """Tick ``path`` at ``at``: ``role`` "first" slows down inside, "second" waits for it to be
    inside; put the actions fired (or the crash) on ``out``."""
    try:
        now = datetime.fromisoformat(at)
        plugins: list[object] = [FakeAgencies()]
        if role == "first":
            plugins.append(Slow(inside, 1.5))
        engine = Engine(path, org=Organisation.from_file(DEMO_ORG), clock=FixedClock(now),
                        plugins=plugins, entry_points=False, busy_timeout=30)
        if role == "second":
            inside.wait(60)
        report = engine.tick(now)
        engine.close()
        out.put({"role": role, "actions": [
            (a.isoformat(), kind, code, step) for a, kind, code, step in report.actions]})
    except BaseException:
        out.put({"role": role, "crash": traceback.format_exc()})
