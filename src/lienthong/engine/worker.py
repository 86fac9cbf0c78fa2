"""The worker: runs the service steps that are due, whoever opened them.

A step is due when it was opened for a worker (``Engine(services="worker")``), when a failed
attempt's wait is over, when its result was discarded, or when whoever held it died and its lease
ran out. The worker takes each step's lease in a short transaction of its own (one UPDATE that
succeeds for one engine only), so any number of workers, in any number of processes, share the
queue without running a step twice at once; then it runs the step as the engine does
(:mod:`~lienthong.engine.services`). ``now`` is injected, as for ``tick``: tests pass instants,
``lienthong work`` passes none and the engine's clock answers.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from lienthong.engine.services import ServiceOutcome, ServiceSteps, stamp
from lienthong.store import jobs
from lienthong.store.records import parse_instant

#: Steps one pass of the worker takes on at most.
BATCH = 100


@attrs.frozen
class WorkReport:
    """What one pass of the worker did, and when the next step falls due."""

    at: datetime
    outcomes: tuple[ServiceOutcome, ...]
    next_due: datetime | None

    def count(self, outcome: str) -> int:
        """How many runs came to ``outcome`` (``done``, ``failed``, ``discarded``)."""
        return sum(o.outcome == outcome for o in self.outcomes)


class Worker:
    """Takes due service steps one by one, under a lease, and runs them."""

    def __init__(self, services: ServiceSteps) -> None:
        self.services = services

    def run_once(self, now: datetime | None = None, *, limit: int = BATCH) -> WorkReport:
        """Run the service steps due by ``now`` (default: the engine's clock), at most
        ``limit`` of them, and those their results open."""
        services = self.services
        ctx = services.ctx
        now = now or ctx.clock.now()
        at = stamp(now)
        outcomes: list[ServiceOutcome] = []
        for step_id in jobs.due(ctx.db, at, limit):
            with ctx.command() as db:
                mine = jobs.claim(db, step_id, services.worker_id, at, stamp(now + services.lease))
            if mine:  # else another worker took it between the read and the claim
                outcomes.extend(services.run_held([step_id], now))
        return WorkReport(now, tuple(outcomes), parse_instant(jobs.next_due(ctx.db)))
