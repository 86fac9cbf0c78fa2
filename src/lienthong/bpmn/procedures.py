"""BPMN files -> immutable, versioned procedure specs.

SpiffWorkflow's parser reads the process; lienthong reads its own name–value extension properties
(``camunda:properties``, ``zeebe:properties`` or ``spiffworkflow:properties``; keys in
``docs/bpmn-properties.md``) and checks the file against the rules ``lienthong lint`` reports
(:mod:`lienthong.bpmn.checks`): a file loads exactly when lint finds no error in it, and a
refusal lists every error at once. A :class:`Procedure` is identified by the SHA-256 of the
file's bytes, so a dossier can keep the exact version it was received under.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask

from lienthong.bpmn.checks import STEP_KINDS, UNSUPPORTED, Checked, check_document
from lienthong.bpmn.problems import Problem
from lienthong.bpmn.properties import NS, PREFIX
from lienthong.bpmn.shares import heaviest_path
from lienthong.bpmn.specs import Lane, StepSpec
from lienthong.errors import ProcedureError
from lienthong.legaltime.durations import SAME_DAY, format_duration
from lienthong.org import Organisation

__all__ = [
    "MAX_BPMN_BYTES",
    "NS",
    "PREFIX",
    "STEP_KINDS",
    "UNSUPPORTED",
    "Lane",
    "Procedure",
    "StepSpec",
    "heaviest_path",
    "load_procedure",
    "procedure_from_store",
    "read_source",
    "refusal",
]

#: The largest BPMN file :func:`load_procedure` reads unless told otherwise: a real procedure's
#: file is tens of kilobytes, and parsing costs memory and time in proportion to the size.
MAX_BPMN_BYTES = 5 * 1024 * 1024
#: Rules added with ``lienthong lint``, after versions may have been stored that break them: a
#: stored version is read again without them, so the dossiers received under it keep running.
_NEWER_RULES = frozenset(
    {"lienthong-key", "property-prefix", "condition-literal", "property-value", "script-language"}
)


@attrs.frozen
class Procedure:
    """An immutable, versioned procedure (thủ tục hành chính) parsed from one BPMN file."""

    version: str  # sha256 of the file bytes
    code: str
    name: str
    process_id: str
    deadline_minutes: int
    same_day: bool
    source: str
    bpmn: bytes = attrs.field(repr=False)
    lanes: Mapping[str, Lane] = attrs.field(repr=False)
    steps: Mapping[str, StepSpec] = attrs.field(repr=False)
    required_documents: tuple[str, ...] = ()
    fee: int | None = None
    legal_basis: str = ""
    #: working minutes a unit has to ask for a supplement; None: the Engine's default (3 days)
    supplement_window_minutes: int | None = None
    #: who signs the apology: ``fault`` (the unit at fault) or ``lead`` (the lead agency)
    apology_by: str = "fault"
    spec: Any = attrs.field(default=None, eq=False, repr=False)
    subprocess_specs: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def deadline_text(self) -> str:
        """The deadline as written: ``3d`` or ``same-day``."""
        return SAME_DAY if self.same_day else format_duration(self.deadline_minutes)

    @property
    def operations(self) -> dict[str, str]:
        """Service task id -> operation name."""
        return {s.id: s.operation for s in self.steps.values() if s.operation}


def read_source(
    source: str | Path | bytes, *, name: str | None = None, max_bytes: int = MAX_BPMN_BYTES
) -> tuple[bytes, str]:
    """The bytes of a BPMN file (a path, or its bytes with ``name`` for messages) and the name
    messages give it; a file that cannot be read, or is over ``max_bytes``, is a ProcedureError."""
    if isinstance(source, bytes):
        data, file = source, name or "<bpmn>"
        size = len(data)
    else:
        if not isinstance(source, str | os.PathLike):
            raise ProcedureError(f"a BPMN file is a path or bytes, not {type(source).__name__}")
        path = Path(source)
        file = name or str(path)
        try:
            with path.open("rb") as fh:
                # No more than one byte past the limit: enough to know, whatever the file is.
                data = fh.read(max_bytes + 1)
                size = max(len(data), os.fstat(fh.fileno()).st_size)
        except OSError as e:
            raise ProcedureError(f"{file}: cannot read: {e.strerror}") from None
        except ValueError as e:  # a NUL or a lone surrogate in the path: repr() prints it
            raise ProcedureError(f"{file!r}: cannot read: {e}") from None
    if size > max_bytes:
        raise ProcedureError(
            f"{file}: the file is {size:,} bytes, more than the limit of {max_bytes:,} bytes "
            "for a BPMN file"
        )
    return data, file


def refusal(file: str, problems: Iterable[Problem]) -> ProcedureError:
    """The ProcedureError for a file's errors: the one error, or every one on a line of its
    own; the problems themselves are its ``problems``."""
    found = tuple(problems)
    if len(found) == 1:
        error = ProcedureError(found[0].sentence())
    else:
        lines = "\n".join(f"  {p.sentence()[len(file) + 2 :]}" for p in found)
        error = ProcedureError(f"{file}: {len(found)} problems refuse the file:\n{lines}")
    error.problems = found
    return error


def load_procedure(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    restricted_scripts: bool = True,
    max_bytes: int = MAX_BPMN_BYTES,
    org: Organisation | None = None,
    operations: Iterable[str] | None = None,
) -> Procedure:
    """Parse a BPMN file (a path, or its bytes with ``name`` for messages) into a Procedure.

    The file is refused, with a :class:`ProcedureError` listing every error ``lienthong lint``
    reports for it (file, line, element id and name, rule), when there is any; warnings do not
    refuse it. A file of more than ``max_bytes`` bytes is refused before it is parsed. With
    ``org``, every lane's role must be held by a unit of it; with ``operations``, every service
    task's operation must be one of them.
    """
    data, file = read_source(source, name=name, max_bytes=max_bytes)
    checked = check_document(
        data, file, restricted_scripts=restricted_scripts, org=org, operations=operations
    )
    if checked.errors:
        raise refusal(file, checked.errors)
    return _procedure(checked, data, file)


def procedure_from_store(data: bytes, *, name: str, restricted_scripts: bool = True) -> Procedure:
    """A version the store keeps, read again: the rules added since it may have been stored
    (:data:`_NEWER_RULES`) do not refuse it, so the dossiers received under it keep running."""
    checked = check_document(data, name, restricted_scripts=restricted_scripts)
    errors = [p for p in checked.errors if p.rule not in _NEWER_RULES]
    if errors or checked.spec is None:
        raise refusal(name, errors or checked.errors)
    return _procedure(checked, data, name)


def _procedure(checked: Checked, data: bytes, file: str) -> Procedure:
    props, spec = checked.props, checked.spec
    for task_spec in spec.task_specs.values():
        # Service tasks wait for lienthong to run their plugin operation inside a command of
        # their own, so SpiffWorkflow must not run them as engine steps.
        if isinstance(task_spec, ServiceTask):
            task_spec.manual = True
        if task_spec.bpmn_id in checked.steps:
            task_spec.extensions = attrs.asdict(checked.steps[task_spec.bpmn_id])
    return Procedure(
        version=hashlib.sha256(data).hexdigest(),
        code=props["procedure-code"],
        name=props["procedure-name"],
        process_id=checked.process.get("id"),
        deadline_minutes=checked.deadline,
        same_day=checked.same_day,
        source=file,
        bpmn=data,
        lanes=checked.lanes,
        steps=checked.steps,
        required_documents=tuple(
            d.strip() for d in props.get("required-documents", "").split(";") if d.strip()
        ),
        fee=checked.fee,
        legal_basis=props.get("legal-basis", ""),
        supplement_window_minutes=checked.supplement_window,
        apology_by=props.get("apology-by", "").strip().lower() or "fault",
        spec=spec,
        subprocess_specs=checked.subprocess_specs,
    )
