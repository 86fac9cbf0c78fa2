"""Compare what two engines hold, whatever SpiffWorkflow's task ids.

SpiffWorkflow gives each task a random id (uuid4), which lienthong keeps on the step rows
(``Step.task_id``): two engines that lived the same history hold the same dossiers, steps and
audit rows except for those ids. :func:`comparable_state` reads an engine's dossiers, steps and
audit rows into plain data with every task id replaced by a label in order of first appearance
(``task-1``, ``task-2``, …: steps of one task share its label, as they share its id), and
:func:`assert_same_state` compares two engines and names the first difference.

What is compared is what the public API reads (``Engine.dossiers``, ``Engine.steps``,
``Engine.audit_rows``), audit ids included; the stored workflow state (SpiffWorkflow's own
serialisation, full of task ids) is not. An audit row's ``state_digest`` hashes its dossier's step
rows, task ids and all, and its ``hash`` covers that digest: the digest is compared as the dossier
row's hash and the ids of the steps it vouches for, and instead of the hashes
:func:`assert_same_state` checks that each engine's chain and tables verify
(``verify_audit(deep=True)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from lienthong.engine import Engine

__all__ = ["assert_same_state", "comparable_state"]


def comparable_state(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """``{"dossiers": [...], "steps": [...], "audit": [...]}``: every dossier (in code order),
    its steps (in the order they opened) and its audit rows (in order), as dictionaries, with
    SpiffWorkflow's task ids replaced by ``task-1``, ``task-2``, … in order of first appearance,
    in the step rows and wherever else they appear as text (step data, audit data)."""
    dossiers = engine.dossiers()
    steps = [s for d in dossiers for s in engine.steps(d.code)]
    audit = [_comparable_row(r) for d in dossiers for r in engine.audit_rows(d.code)]
    labels: dict[str, str] = {}
    for s in steps:
        labels.setdefault(s.task_id, f"task-{len(labels) + 1}")

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            if value in labels:
                return labels[value]
            for raw, label in labels.items():
                if raw and raw in value:
                    value = value.replace(raw, label)
            return value
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return {
        "dossiers": [clean(attrs.asdict(d, recurse=False)) for d in dossiers],
        "steps": [clean(attrs.asdict(s, recurse=False)) for s in steps],
        "audit": [clean(r) for r in audit],
    }


def _comparable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An audit row without what hashes task ids: ``prev_hash`` and ``hash`` left out, the
    state digest as its dossier row's hash and the ids of the steps it vouches for."""
    out = {k: v for k, v in row.items() if k not in ("prev_hash", "hash")}
    digest = out.get("state_digest")
    if isinstance(digest, str):
        words = digest.split(" ")
        out["state_digest"] = " ".join([words[0], *(w.partition(":")[0] for w in words[1:])])
    return out


def assert_same_state(a: Engine, b: Engine) -> None:
    """Raise AssertionError unless the two engines hold the same dossiers, steps and audit rows
    (:func:`comparable_state`) and each one's audit chain and tables verify; the message names
    the first difference, e.g. ``steps[3]['due_at']: 2025-03-04T10:00:00+07:00 !=
    2025-03-04T11:00:00+07:00``, and how many there are."""
    diffs = differences(comparable_state(a), comparable_state(b))
    if diffs:
        more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
        raise AssertionError(f"the engines' states differ: {diffs[0]}{more}")
    for which, engine in (("first", a), ("second", b)):
        verified = engine.verify_audit(deep=True)
        if not verified.ok:
            raise AssertionError(
                f"the {which} engine's audit does not verify: row {verified.broken_id}: "
                f"{verified.reason}"
            )


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two plain values differ: one line per differing leaf, a length that differs, or
    a key only one side has."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for k in [*a, *(k for k in b if k not in a)]:
            here = f"{where}[{k!r}]" if where else str(k)
            if k not in a or k not in b:
                out.append(f"{here}: only in the {'second' if k not in a else 'first'}")
            else:
                out.extend(differences(a[k], b[k], here))
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out.extend(differences(x, y, f"{where}[{i}]"))
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items != {len(b)} items")
        return out
    if a == b and type(a) is type(b):
        return []
    return [f"{where or 'value'}: {_shown(a)} != {_shown(b)}"]


def _shown(v: Any) -> str:
    return v.isoformat() if isinstance(v, datetime) else repr(v)
