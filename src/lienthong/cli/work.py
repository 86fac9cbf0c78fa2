"""``lienthong work``: the service worker, a long-running command beside ``lienthong tick``."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import click

from lienthong.cli.options import current_config, db_option, open_engine, org_option
from lienthong.errors import LienthongError

log = logging.getLogger("lienthong.work")


@click.command()
@db_option
@org_option
@click.option("--once", is_flag=True, help="One pass over what is due, then exit.")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: run until interrupted).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=lambda: current_config().get("work.poll", 5.0),
    show_default="lienthong.toml's [work] poll, else 5",
    help="Seconds between two looks at the queue when nothing is due sooner.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=lambda: current_config().get("work.limit", 100),
    show_default="lienthong.toml's [work] limit, else 100",
    help="Service steps one pass takes on at most.",
)
def work(
    db: str, org: str | None, once: bool, max_seconds: float | None, poll: float, limit: int
) -> None:
    """Run the service steps that are due: calls to other agencies' systems, first attempts
    left to a worker and retries after a failure, each under a lease so that several workers
    (on several machines sharing the store) never run one step twice.

    The operations are performed by the plugins lienthong.toml lists (or, with no list, those
    installed). Each step run logs one line on standard error, the dossier code first.
    """
    # The loop's own timing is wall time on this machine (how long to run, how long to wait),
    # not legal time: the engine's clock decides what is due.
    stop = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        with open_engine(db, org, services="worker") as engine:
            done = failed = 0
            try:
                while True:
                    report = engine.work(limit=limit)
                    for o in report.outcomes:
                        line = f"{o.dossier} {o.outcome} step {o.step_id}"
                        if o.error:
                            line += f": {o.error}"
                        if o.outcome == "failed":
                            line += f" (next attempt: {_at(o.next_attempt_at)})"
                        log.info(line)
                    done += report.count("done")
                    failed += report.count("failed")
                    left = None if stop is None else stop - time.monotonic()
                    if once or (left is not None and left <= 0):
                        break
                    if report.outcomes and len(report.outcomes) >= limit:
                        continue  # more may be waiting: no pause
                    wait = poll
                    if report.next_due is not None:
                        wait = min(wait, max(0.0, (report.next_due - report.at).total_seconds()))
                    if left is not None:
                        wait = min(wait, left)
                    time.sleep(max(wait, 0.05))  # never a busy loop
            except KeyboardInterrupt:
                pass
            click.echo(f"{done} done, {failed} failed")
    except LienthongError as e:
        raise click.ClickException(str(e)) from None


def _at(t: datetime | None) -> str:
    return t.isoformat(timespec="seconds") if t else "none automatic: use retry"
