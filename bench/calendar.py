"""Working-calendar benchmark: indexed ``add`` against a naive day-by-day loop.

Run: ``.venv/bin/python bench/calendar.py`` (about 15 seconds). Adds 1, 20 and 200 working days to
the same 400 start instants with ``WorkingCalendar.add`` (bisection over the index of working days)
and with a day-by-day loop written here on the same calendar's ``is_working_day``; checks that
both give the same instants; prints a table, then one JSON line (operations per second).
Machines are shared and noisy: compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named calendar.py: run as a script, its directory would come first on sys.path and
# shadow the standard library's `calendar` module, which `holidays` imports (`isleap`). Drop it.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import json
import random
import time as _time
from collections.abc import Callable
from datetime import datetime, timedelta

from lienthong.legaltime.calendar import WorkingCalendar
from lienthong.legaltime.clock import VN_TZ
from lienthong.testing import reference_add_minutes

SIZES = (1, 20, 200)
STARTS = 400
ROUND_SECONDS = 0.6
ROUNDS = 3


def naive_add_days(cal: WorkingCalendar, start: datetime, days: int) -> datetime:
    """Walk day by day (and period by period) until ``days`` working days are used up."""
    return reference_add_minutes(cal, start, days * cal.minutes_per_day)


def ops_per_second(fn: Callable[[datetime], datetime], starts: list[datetime]) -> float:
    """Best of ROUNDS rounds, each calling ``fn`` over ``starts`` until ROUND_SECONDS pass."""
    best = 0.0
    for _ in range(ROUNDS):
        calls = 0
        t0 = _time.perf_counter()
        while True:
            for s in starts:
                fn(s)
            calls += len(starts)
            elapsed = _time.perf_counter() - t0
            if elapsed >= ROUND_SECONDS:
                break
        best = max(best, calls / elapsed)
    return best


def main() -> None:
    cal = WorkingCalendar.default()
    rng = random.Random(118)  # Decree 118/2025
    base = datetime(2025, 1, 1, tzinfo=VN_TZ)
    # Any minute of 2025, working or not (Tết, make-up Saturday, nights): the due dates run into
    # 2026, over the default overlay's New Year swap.
    starts = [base + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(STARTS)]
    cal.add(starts[0], days=max(SIZES))  # build the index outside the timings

    results: dict[str, float] = {}
    for days in SIZES:
        for s in starts:  # both ways must agree before they are timed
            assert cal.add(s, days=days) == naive_add_days(cal, s, days), (s, days)
        results[f"add{days}_ops"] = ops_per_second(lambda s, n=days: cal.add(s, days=n), starts)
        results[f"naive_add{days}_ops"] = ops_per_second(
            lambda s, n=days: naive_add_days(cal, s, n), starts
        )

    print(
        f"{'working days':>12}  {'indexed ops/s':>14}  {'naive ops/s':>12}  {'indexed/naive':>13}"
    )
    for days in SIZES:
        fast, slow = results[f"add{days}_ops"], results[f"naive_add{days}_ops"]
        print(f"{days:>12}  {fast:>14,.0f}  {slow:>12,.0f}  {fast / slow:>12.1f}x")
    flat = results["add1_ops"] / results["add200_ops"]
    print(f"indexed cost of 200 days / cost of 1 day: {flat:.2f} (1.00 = flat)")
    ratio = results["add200_ops"] / results["naive_add200_ops"]
    verdict = "met" if ratio >= 20 else "NOT met"
    print(f"bar: add200_ops >= 20 x naive_add200_ops: {ratio:.1f}x, {verdict}")
    results = {k: round(v, 1) for k, v in results.items()}
    results["ratio_add200"] = round(ratio, 2)
    results["cost_200_over_1"] = round(flat, 3)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
