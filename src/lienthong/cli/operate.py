"""The operator's daily commands: ``lienthong tick`` (the SLA timers, from cron or as a service),
``lienthong queue`` (a unit's or an officer's open steps) and ``lienthong dossiers`` (the list).

``tick`` logs one line per action on standard error, the dossier code first (``000.00.01.H29-
260204-0009 escalated step 12 due 2026-02-09T17:00:00+07:00``), so that ``grep CODE`` on a
service's log finds what happened to a dossier; its summary goes to standard output. Two ticks
at once, from cron and a service or on two machines sharing the file, never fire one action
twice: each action is taken under the store's write lock, after looking again that it is still
due (:mod:`lienthong.engine.tick`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import datetime
from typing import Any

import click

from lienthong.cli.options import current_config, db_option, format_option, open_engine, org_option
from lienthong.status import Status

__all__ = ["dossiers", "queue", "tick"]

log = logging.getLogger("lienthong.tick")


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t is not None else None


@click.command()
@db_option
@org_option
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Tick again every SECONDS until interrupted (a service); without it, tick once (cron).",
)
@click.option(
    "--forever",
    is_flag=True,
    help="Tick every [tick] every seconds of lienthong.toml (60), until interrupted.",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="With --every or --forever: stop after this many seconds.",
)
@format_option("text", "json")
def tick(
    db: str, org: str | None, every: float | None, forever: bool, max_seconds: float | None,
    fmt: str,
) -> None:
    """Fire the SLA timers that are due now: warnings, escalations of late steps, apology
    reminders, supplement expiries. Safe from cron and as a service: two ticks at once fire
    each action once."""
    if forever and every is None:
        every = float(current_config().get("tick.every", 60.0))
    stop = None if max_seconds is None else time.monotonic() + max_seconds
    total = 0
    with open_engine(db, org) as engine:
        try:
            while True:
                started = time.monotonic()
                report = engine.tick()
                total += len(report.actions)
                for at, kind, code, step in report.actions:
                    where = f" step {step}" if step is not None else ""
                    log.info("%s %s%s due %s", code, kind, where, _iso(at))
                _summary(report.actions, engine.clock.now(), fmt)
                if every is None:
                    break
                wait = every - (time.monotonic() - started)
                if stop is not None:
                    wait = min(wait, stop - time.monotonic())
                    if wait <= 0:
                        break
                time.sleep(max(wait, 0.0))
        except KeyboardInterrupt:  # Ctrl-C, or the service's stop signal (KillSignal=SIGINT)
            pass
    if every is not None and fmt == "text":
        click.echo(f"stopped after {_n(total, 'action')}")


def _summary(actions: tuple[Any, ...], now: datetime, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({
            "at": _iso(now),
            "actions": [
                {"dossier": code, "kind": kind, "step": step, "due": _iso(at)}
                for at, kind, code, step in actions
            ],
        }, ensure_ascii=False))
        return
    kinds = Counter(kind for _at, kind, _code, _step in actions)
    counted = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    more = f" ({counted})" if counted else ""
    click.echo(f"tick at {_iso(now)}: {_n(len(actions), 'action')}{more}")


@click.command()
@click.option("--unit", "unit", default=None, metavar="CODE", help="A unit's queue (mã đơn vị).")
@click.option("--officer", "officer", default=None, metavar="ID",
              help="What an officer may work: assigned to them, in their units' queues, lent by a "
              "delegation, escalated to them.")  # fmt: skip
@db_option
@org_option
@format_option("text", "json")
def queue(unit: str | None, officer: str | None, db: str, org: str | None, fmt: str) -> None:
    """The open steps of a unit, or those an officer may work, by due instant, the late ones
    marked."""
    if (unit is None) == (officer is None):
        raise click.UsageError("give exactly one of --unit CODE or --officer ID")
    with open_engine(db, org, plugins=False) as engine:
        steps = engine.open_steps(unit=unit, officer=officer)
        now = engine.clock.now()
        rows = [
            {
                "dossier": s.dossier,
                "step": s.id,
                "name": s.name,
                "unit": s.unit,
                "assignee": s.assignee,
                "status": s.status,
                "due": _iso(s.due_at),
                "overdue": s.due_at is not None and s.due_at < now,
                "escalated_to": s.escalated_to,
            }
            for s in steps
        ]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    who = f"unit {unit}" if unit else f"officer {officer}"
    click.echo(f"{_n(len(rows), 'open step')} for {who}")
    for r in rows:
        late = "  LATE" if r["overdue"] else ""
        click.echo(
            f"  {r['due'] or 'no due instant':25} {r['dossier']}  step {r['step']}  {r['name']}"
            f"  [{r['unit']}{', ' + str(r['assignee']) if r['assignee'] else ''}]{late}"
        )


def _status(ctx: click.Context, param: click.Parameter, value: int | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise click.BadParameter(
            f"{value} is not a dossier status: 1 to 10 (docs/engine.md)"
        ) from None


@click.command()
@click.option("--status", "status", type=int, default=None, callback=_status, metavar="N",
              help="Only dossiers with this status (1-10, as on the national portal).")
@click.option("--procedure", "procedure", default=None, metavar="CODE",
              help="Only dossiers of this procedure (mã TTHC).")
@click.option("--overdue", is_flag=True,
              help="Only open dossiers past their appointment (quá hạn), not paused.")
@db_option
@org_option
@format_option("text", "json")
def dossiers(
    status: Status | None, procedure: str | None, overdue: bool, db: str, org: str | None, fmt: str
) -> None:
    """The dossiers (hồ sơ), in code order: status, procedure, appointment."""
    paused = (Status.SUPPLEMENT_REQUESTED, Status.FINANCIAL_OBLIGATION)
    with open_engine(db, org, plugins=False) as engine:
        now = engine.clock.now()
        found = [
            d for d in engine.dossiers(status=status)
            if (procedure is None or d.procedure_code == procedure)
            and (not overdue or (
                not d.is_closed and d.status not in paused and d.appointment is not None
                and d.appointment < now
            ))
        ]
    rows = [
        {
            "code": d.code,
            "status": int(d.status),
            "status_label": d.status.label,
            "procedure": d.procedure_code,
            "received": _iso(d.received_at or d.arrived_at),
            "appointment": _iso(d.appointment),
            "closed": _iso(d.closed_at),
        }
        for d in found
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(_n(len(rows), "dossier"))
    for r in rows:
        click.echo(
            f"  {r['code']}  {r['status']:>2} {r['status_label']:24}  {r['procedure']:10}  "
            f"hẹn {r['appointment'] or '-'}"
        )
