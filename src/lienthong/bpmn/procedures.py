"""BPMN files -> immutable, versioned procedure specs.

SpiffWorkflow's parser reads the process; lienthong reads its own name–value extension properties
(``camunda:properties`` or ``spiffworkflow:properties``; keys in ``docs/bpmn-properties.md``) and
checks them. A :class:`Procedure` is identified by the SHA-256 of the file's bytes, so a dossier can
keep the exact version it was received under.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from lienthong.bpmn.scripts import check_script
from lienthong.errors import InvalidData, ProcedureError, ScriptError
from lienthong.legaltime.durations import MINUTES_PER_DAY, SAME_DAY, format_duration, parse_duration

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
PREFIX = "lienthong:"
T = TypeVar("T")
#: The largest BPMN file :func:`load_procedure` reads unless told otherwise: a real procedure's
#: file is tens of kilobytes, and parsing costs memory and time in proportion to the size.
MAX_BPMN_BYTES = 5 * 1024 * 1024
STEP_KINDS = ("reception", "processing", "return")
#: ``lienthong:apology-by`` on the process: who signs the apology (Mẫu 04) — the unit at fault
#: (``fault``, the default) or the procedure's lead agency (``lead``, cơ quan chủ trì).
APOLOGY_BY = ("fault", "lead")
_TASK_TAGS = ("userTask", "serviceTask", "scriptTask", "manualTask", "task")
#: What the engine cannot run yet: refused when the file loads, rather than a dossier stuck later.
#: Timers would read the wall clock (lienthong's deadlines come from lienthong:share instead);
#: the others need a runner for messages, decisions or nested processes.
_UNSUPPORTED = {
    "sendTask": "send tasks",
    "receiveTask": "receive tasks",
    "businessRuleTask": "business rule tasks (DMN)",
    "callActivity": "call activities",
    "subProcess": "subprocesses",
    "transaction": "transactions",
    "adHocSubProcess": "ad-hoc subprocesses",
    "eventBasedGateway": "event-based gateways",
    "timerEventDefinition": "timer events (deadlines come from lienthong:share)",
    "messageEventDefinition": "message events",
    "signalEventDefinition": "signal events",
}


@attrs.frozen
class Lane:
    """A lane: the unit role that works it."""

    id: str
    name: str
    role: str
    coordinating: bool = False


@attrs.frozen
class StepSpec:
    """One task of the process, as lienthong sees it."""

    id: str
    name: str
    kind: str  # user | service | script | other
    lane: str  # lane id
    role: str
    share_minutes: int = 0
    step_kind: str = "processing"
    required_fields: tuple[str, ...] = ()
    operation: str | None = None

    @property
    def is_step(self) -> bool:
        """User and service tasks become steps that someone (or a plugin) must close."""
        return self.kind in ("user", "service")


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


def _properties(el: Any, file: str) -> dict[str, str]:
    """Read lienthong's keys from both property flavours; a conflict is an error."""
    out: dict[str, str] = {}
    for flavour in ("camunda", "spiffworkflow"):
        for p in el.xpath(
            f"./bpmn:extensionElements/{flavour}:properties/{flavour}:property", namespaces=NS
        ):
            name, value = p.get("name", ""), p.get("value", "")
            if not name.startswith(PREFIX):
                continue
            key = name[len(PREFIX) :]
            if key in out and out[key] != value:
                raise ProcedureError(
                    f"{file}: element {el.get('id')!r} (line {el.sourceline}) sets {name} twice, "
                    f"to {out[key]!r} and {value!r}"
                )
            out[key] = value
    return out


def _where(file: str, el: Any) -> str:
    return f"{file}: {etree.QName(el).localname} {el.get('id')!r} (line {el.sourceline})"


def _duration(props: dict[str, str], key: str, file: str, el: Any) -> int:
    try:
        return parse_duration(props.get(key, "0"), where=f"{_where(file, el)}, {PREFIX}{key}")
    except InvalidData as e:
        raise ProcedureError(str(e)) from None


def load_procedure(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    restricted_scripts: bool = True,
    max_bytes: int = MAX_BPMN_BYTES,
) -> Procedure:
    """Parse a BPMN file (a path, or its bytes with ``name`` for messages) into a Procedure.

    Every problem is a :class:`ProcedureError` naming the file, the element id and the line. A
    file of more than ``max_bytes`` bytes is refused before it is parsed.
    """
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
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        raise ProcedureError(f"{file}: line {e.lineno}: not well-formed XML: {e.msg}") from None
    processes = [
        p for p in root.xpath("//bpmn:process", namespaces=NS) if p.get("isExecutable") != "false"
    ]
    if len(processes) != 1:
        raise ProcedureError(
            f"{file}: expected exactly one executable bpmn:process, found {len(processes)}"
        )
    proc = processes[0]
    pid = proc.get("id")
    props = _properties(proc, file)
    for key in ("procedure-code", "procedure-name", "deadline"):
        if not props.get(key):
            raise ProcedureError(f"{_where(file, proc)}: missing property {PREFIX}{key}")
    same_day = props["deadline"].strip().lower() == SAME_DAY
    deadline = MINUTES_PER_DAY if same_day else _duration(props, "deadline", file, proc)
    if deadline <= 0:
        raise ProcedureError(f"{_where(file, proc)}: {PREFIX}deadline must be positive")

    lanes: dict[str, Lane] = {}
    lane_of: dict[str, str] = {}
    for lane_el in proc.xpath(".//bpmn:lane", namespaces=NS):
        lp = _properties(lane_el, file)
        lane = Lane(
            id=lane_el.get("id"),
            name=lane_el.get("name") or lane_el.get("id"),
            role=lp.get("unit-role") or lane_el.get("id"),
            coordinating=lp.get("coordinating", "false").lower() == "true",
        )
        lanes[lane.id] = lane
        for ref in lane_el.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lane_of[(ref.text or "").strip()] = lane.id
    if not lanes:
        raise ProcedureError(
            f"{_where(file, proc)}: the process has no lanes; every task must sit in a lane "
            "that names the unit working it"
        )

    for tag, what in _UNSUPPORTED.items():
        for el in proc.xpath(f".//bpmn:{tag}", namespaces=NS):
            host = el if el.get("id") else el.getparent()
            raise ProcedureError(
                f"{_where(file, host)}: lienthong does not run {what} yet; use user, service and "
                "script tasks with exclusive and parallel gateways"
            )

    steps: dict[str, StepSpec] = {}
    # A manual task or a plain task is work a person does: a user step like any other.
    tag_kind = {
        "userTask": "user",
        "manualTask": "user",
        "task": "user",
        "serviceTask": "service",
        "scriptTask": "script",
    }
    for tag in _TASK_TAGS:
        for el in proc.xpath(f".//bpmn:{tag}", namespaces=NS):
            tid = el.get("id")
            if tid not in lane_of:
                raise ProcedureError(f"{_where(file, el)}: the task is in no lane")
            tp = _properties(el, file)
            kind = tag_kind.get(tag, "other")
            step_kind = tp.get("step-kind", "processing")
            if step_kind not in STEP_KINDS:
                raise ProcedureError(
                    f"{_where(file, el)}: {PREFIX}step-kind {step_kind!r} is not one of "
                    f"{', '.join(STEP_KINDS)}"
                )
            op = tp.get("operation") or None
            if kind == "service" and not op:
                raise ProcedureError(
                    f"{_where(file, el)}: a service task needs {PREFIX}operation naming what "
                    "a plugin performs"
                )
            if kind == "script":
                script = "".join(el.xpath("./bpmn:script/text()", namespaces=NS))
                try:
                    check_script(script, restricted=restricted_scripts)
                except ScriptError as e:
                    raise ProcedureError(f"{_where(file, el)}: script refused: {e}") from None
            fields = tuple(f.strip() for f in tp.get("required-fields", "").split(",") if f.strip())
            steps[tid] = StepSpec(
                id=tid,
                name=el.get("name") or tid,
                kind=kind,
                lane=lane_of[tid],
                role=lanes[lane_of[tid]].role,
                share_minutes=_duration(tp, "share", file, el),
                step_kind=step_kind,
                required_fields=fields,
                operation=op,
            )
    for flow in proc.xpath(".//bpmn:conditionExpression", namespaces=NS):
        try:
            # Conditions are evaluated, not executed: an assignment must fail here, at load.
            check_script(flow.text or "True", restricted=restricted_scripts, expression=True)
        except ScriptError as e:
            seq = flow.getparent()
            named = f" named {seq.get('name')!r}" if seq.get("name") else ""
            raise ProcedureError(f"{_where(file, seq)}{named}: condition refused: {e}") from None

    apology_by = props.get("apology-by", "fault").strip().lower() or "fault"
    if apology_by not in APOLOGY_BY:
        raise ProcedureError(
            f"{_where(file, proc)}: {PREFIX}apology-by {props['apology-by']!r} is not one of "
            f"{', '.join(APOLOGY_BY)}"
        )
    fee_text = props.get("fee")
    try:
        fee = int(fee_text) if fee_text else None
    except ValueError:
        raise ProcedureError(
            f"{_where(file, proc)}: {PREFIX}fee {fee_text!r} is not an integer"
        ) from None

    spec, subprocess_specs = _spiff_spec(root, file, pid)
    for task_spec in spec.task_specs.values():
        # Service tasks wait for lienthong to run their plugin operation inside a command of
        # their own, so SpiffWorkflow must not run them as engine steps.
        if isinstance(task_spec, ServiceTask):
            task_spec.manual = True
        if task_spec.bpmn_id in steps:
            task_spec.extensions = attrs.asdict(steps[task_spec.bpmn_id])
    procedure = Procedure(
        version=hashlib.sha256(data).hexdigest(),
        code=props["procedure-code"],
        name=props["procedure-name"],
        process_id=pid,
        deadline_minutes=deadline,
        same_day=same_day,
        source=file,
        bpmn=data,
        lanes=lanes,
        steps=steps,
        required_documents=tuple(
            d.strip() for d in props.get("required-documents", "").split(";") if d.strip()
        ),
        fee=fee,
        legal_basis=props.get("legal-basis", ""),
        supplement_window_minutes=(
            _duration(props, "supplement-window", file, proc)
            if props.get("supplement-window")
            else None
        ),
        apology_by=apology_by,
        spec=spec,
        subprocess_specs=subprocess_specs,
    )
    check_shares(procedure, proc, file)
    return procedure


#: SpiffWorkflow's parser recurses once or twice per element along the sequence flows, so a long
#: chain of tasks needs a deep stack: the parse runs in a thread of its own with this much stack
#: and this recursion limit (a 2,000-task chain needs about 4,000 frames).
_PARSE_STACK_BYTES = 256 * 1024 * 1024
_PARSE_RECURSION_LIMIT = 25_000
_parse_lock = threading.Lock()


def _deep(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread with a deep stack; its exception is raised here."""
    out: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # handed back to the caller's thread below
            error.append(e)

    # The recursion limit is the interpreter's, not the thread's: raise it only while the parse
    # runs (one parse at a time), and give the thread a stack that can hold that many frames.
    with _parse_lock:
        old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
        threading.stack_size(_PARSE_STACK_BYTES)
        try:
            sys.setrecursionlimit(max(old_limit, _PARSE_RECURSION_LIMIT))
            worker = threading.Thread(target=target, name="lienthong-bpmn-parse")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if error:
        raise error[0]
    return out[0]


def _spiff_spec(root: Any, file: str, pid: str) -> tuple[Any, Any]:
    parser = BpmnParser(validator=BpmnValidator())

    def parse() -> tuple[Any, Any]:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=file)
        return parser.get_spec(pid), parser.get_subprocess_specs(pid)

    try:
        spec, subprocess_specs = _deep(parse)
    except ValidationException as e:
        where = f"{file}: line {e.line_number}" if e.line_number else file
        el = f" element {e.id!r}" if getattr(e, "id", "") else ""
        if _from_recursion(e):
            raise ProcedureError(f"{where}:{el}: {_too_deep()}") from None
        raise ProcedureError(f"{where}:{el} {e}") from None
    except SpiffWorkflowException as e:
        raise ProcedureError(f"{file}: {e}") from None
    except RecursionError:
        raise ProcedureError(f"{file}: {_too_deep()}") from None
    _ = (UserTask, ScriptTask)
    return spec, subprocess_specs


def _too_deep() -> str:
    return (
        "SpiffWorkflow's parser follows the sequence flows with one nested call per element, "
        f"and went past the recursion limit lienthong gives it ({_PARSE_RECURSION_LIMIT}) here: "
        "the process has too many elements one after another for it"
    )


def _from_recursion(error: BaseException) -> bool:
    """Whether SpiffWorkflow's error wraps a RecursionError (it turns any error into its own)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, RecursionError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def check_shares(procedure: Procedure, proc: Any, file: str) -> None:
    """Every path from a start to an end must fit its step shares within the legal deadline.

    Parallel branches are separate paths, so a split into two 2-day branches after a 1-day step
    needs 3 days, not 5. A loop counts once: a path never goes back to a node it has passed.
    Raises :class:`ProcedureError` naming the path that does not fit.
    """
    graph: dict[str, list[str]] = {}
    for f in proc.xpath(".//bpmn:sequenceFlow", namespaces=NS):
        graph.setdefault(f.get("sourceRef"), []).append(f.get("targetRef"))
    starts = [e.get("id") for e in proc.xpath("./bpmn:startEvent", namespaces=NS)]
    share = {sid: s.share_minutes for sid, s in procedure.steps.items()}
    total, path = _heaviest_path(graph, starts, share)
    if total > procedure.deadline_minutes:
        shown = " -> ".join(p for p in path if share.get(p)) or "?"
        raise ProcedureError(
            f"{file}: process {procedure.process_id!r}: the shares along the path "
            f"{' -> '.join(path)} add up to {format_duration(total)} "
            f"({shown}), more than the legal deadline {procedure.deadline_text}"
        )


def _heaviest_path(
    graph: Mapping[str, list[str]], starts: list[str], weight: Mapping[str, int]
) -> tuple[int, list[str]]:
    """The path from a start, never back to a node it has passed, with the greatest total weight.

    Enumerating the paths would take time exponential in the number of gateways, so this is a
    longest-path computation over the graph less the back edges of one depth-first search, in
    time linear in its size and without recursion (a chain of tasks is as deep as it is long).

    When every loop is entered through a single node (what a flow drawn back to an earlier step
    gives), that node lies on every path to the back edge, so no path could take that edge
    anyway: the answer is exactly the heaviest of all the paths, and of the equally heavy ones
    the first in flow order, as a walk through all of them would find. A loop entered at two
    places is counted along the paths this search keeps, which can miss a heavier one; finding
    that one is NP-hard. Returns ``(-1, [])`` without starts.
    """
    best: dict[str, int] = {}  # a finished node: the heaviest total from it to an end
    then: dict[str, str | None] = {}  # ... and the successor that total goes through
    open_: set[str] = set()  # the nodes on the search's stack: an edge to one is a back edge
    for start in starts:
        if start in best:
            continue
        open_.add(start)
        stack = [(start, iter(graph.get(start, ())))]
        while stack:
            node, todo = stack[-1]
            for n in todo:
                if n not in best and n not in open_:
                    open_.add(n)
                    stack.append((n, iter(graph.get(n, ()))))
                    break
            else:
                stack.pop()
                # Every successor has finished except the open ones, which are back edges (the
                # node itself among them, for a flow to itself). The first heaviest wins ties, as
                # a walk in flow order would meet it first.
                pick: str | None = None
                for n in graph.get(node, ()):
                    if n not in open_ and (pick is None or best[n] > best[pick]):
                        pick = n
                best[node] = weight.get(node, 0) + (best[pick] if pick is not None else 0)
                then[node] = pick
                open_.discard(node)
    first = None
    for start in starts:
        if first is None or best[start] > best[first]:
            first = start
    if first is None:
        return -1, []
    path: list[str] = []
    at: str | None = first
    while at is not None:
        path.append(at)
        at = then[at]
    return best[first], path
