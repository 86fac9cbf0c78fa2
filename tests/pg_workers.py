"""What the processes of ``test_pg_workers.py`` run (spawned: see ``concurrency_workers.py``).

Each opens its own engine on one PostgreSQL store and ticks it at one instant, with the tick's
batches made small (``batch``) so that a few dozen dossiers make many batches to share; or runs
the service worker with an agency that never answers (to be killed in the call).
"""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from typing import Any

from lienthong import Engine, FixedClock, Organisation, hookimpl
from lienthong.demo import DEMO_ORG
from lienthong.engine import tick
from support import FakeAgencies


class Pause:
    """Sleeps at every escalation (``seconds``), so that the tick's batches overlap; with
    ``hold`` set, at the first one it says so on ``inside`` and sleeps ``hold`` seconds (to be
    killed there, its batch's locks held)."""

    def __init__(self, seconds: float, inside: Any = None, hold: float = 0) -> None:
        self.seconds, self.inside, self.hold = seconds, inside, hold

    @hookimpl
    def step_escalated(self) -> None:
        if self.inside is not None and not self.inside.is_set():
            self.inside.set()
            time.sleep(self.hold)
        time.sleep(self.seconds)


def open_engine(url: str, at: datetime, *plugins: object) -> Engine:
    return Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(at),
        plugins=[FakeAgencies(), *plugins],
        entry_points=False,
        busy_timeout=60,
    )


def ticker(
    url: str, at: str, index: int, batch: int, pause: float, barrier: Any, out: Any
) -> None:
    """Tick ``url`` at ``at`` when all are ready; put the actions fired (or the crash) on
    ``out``."""
    try:
        tick.TICK_BATCH_SHARED = batch
        now = datetime.fromisoformat(at)
        plugins = [Pause(pause)] if pause else []
        engine = open_engine(url, now, *plugins)
        barrier.wait(60)
        report = engine.tick(now)
        engine.close()
        out.put({"index": index, "actions": [
            (a.isoformat(), kind, code, step) for a, kind, code, step in report.actions]})
    except BaseException:
        out.put({"index": index, "crash": traceback.format_exc()})
        barrier.abort()


def held_ticker(url: str, at: str, batch: int, inside: Any) -> None:
    """Tick ``url`` and stop for good inside the first escalation (the test kills it there)."""
    tick.TICK_BATCH_SHARED = batch
    now = datetime.fromisoformat(at)
    engine = open_engine(url, now, Pause(0, inside, hold=600))
    engine.tick(now)


class Hang:
    """An agency whose every call says so on ``inside``, then never answers."""

    __name__ = "hang"

    def __init__(self, inside: Any) -> None:
        self.inside = inside

    @hookimpl
    def operations(self) -> list[str]:
        return ["police.record_residence", "social_insurance.issue_card"]

    @hookimpl
    def perform_operation(self) -> Any:
        self.inside.set()
        time.sleep(600)


def held_worker(url: str, at: str, inside: Any) -> None:
    """Run the service worker on ``url``; its agency never answers (the test kills it)."""
    now = datetime.fromisoformat(at)
    engine = Engine(
        url,
        org=Organisation.from_file(DEMO_ORG),
        clock=FixedClock(now),
        plugins=[Hang(inside)],
        entry_points=False,
        services="worker",
    )
    engine.work(now)
