"""The rules over one process: its properties, lanes, tasks, flows and conditions.

:mod:`lienthong.bpmn.checks` runs them over each process of a file, beside the rules of the
file as a whole (the schema, which processes are executable, data stores, the diagram).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

from lienthong.bpmn.conditions import RECEPTION_DATA, assigned_names, check_condition, is_python
from lienthong.bpmn.problems import Findings, describe, label
from lienthong.bpmn.properties import NS, PREFIX, TASK_TAGS, Props, camunda_hints
from lienthong.bpmn.scripts import check_script
from lienthong.bpmn.shares import check_shares
from lienthong.bpmn.specs import Lane, StepSpec
from lienthong.errors import InvalidData, ScriptError
from lienthong.legaltime.durations import MINUTES_PER_DAY, SAME_DAY, format_duration, parse_duration
from lienthong.org import Organisation

STEP_KINDS = ("reception", "processing", "return")
_PLAIN = "use user, service and script tasks with exclusive and parallel gateways"
_ANSWER = "wait for the other agency's answer in a service task (lienthong:operation)"
#: What the engine cannot run yet: refused when the file loads, rather than a dossier stuck later.
#: Timers would read the wall clock (lienthong's deadlines come from lienthong:share instead);
#: the others need a runner for messages, decisions or nested processes.
UNSUPPORTED: dict[str, tuple[str, str]] = {
    "sendTask": ("send tasks", "send it from a service task (lienthong:operation)"),
    "receiveTask": ("receive tasks", _ANSWER),
    "businessRuleTask": ("business rule tasks (DMN)", "decide with an exclusive gateway"),
    "callActivity": ("call activities", "draw the called process's steps in this one"),
    "subProcess": ("subprocesses", "draw the subprocess's steps in the process itself"),
    "transaction": ("transactions", _PLAIN),
    "adHocSubProcess": ("ad-hoc subprocesses", _PLAIN),
    "eventBasedGateway": ("event-based gateways", "choose with an exclusive gateway"),
    "complexGateway": ("complex gateways", "choose with an exclusive or an inclusive gateway"),
    "timerEventDefinition": (
        "timer events",
        "remove the timer: a step's deadline comes from its lienthong:share, and Engine.tick "
        "warns and escalates on the working calendar",
    ),
    "messageEventDefinition": ("message events", _ANSWER),
    "signalEventDefinition": ("signal events", _PLAIN),
}
_TAG_KIND = {
    # A manual task or a plain task is work a person does: a user step like any other.
    "userTask": "user",
    "manualTask": "user",
    "task": "user",
    "serviceTask": "service",
    "scriptTask": "script",
}
_GATEWAYS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
             "complexGateway")  # fmt: skip
_CHOICES = ("exclusiveGateway", "inclusiveGateway")
#: Flow nodes that may have several outgoing flows (SpiffWorkflow's rule).
_SPLITTERS = (*_GATEWAYS, "startEvent")
_EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
           "boundaryEvent")  # fmt: skip
FLOW_NODES = frozenset(
    (
        *TASK_TAGS,
        *_GATEWAYS,
        *_EVENTS,
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
    )
)

#: ``lienthong:apology-by`` on the process: who signs the apology (Mẫu 04) — the unit at fault
#: (``fault``, the default) or the procedure's lead agency (``lead``, cơ quan chủ trì).
APOLOGY_BY = ("fault", "lead")


class ProcessCheck:
    """The rules over one process (its properties, lanes, tasks, flows and conditions)."""

    def __init__(
        self,
        proc: Any,
        props: dict[Any, Props],
        found: Findings,
        restricted: bool,
        org: Organisation | None,
        operations: Iterable[str] | None,
    ) -> None:
        self.proc, self.all_props, self.found = proc, props, found
        self.restricted, self.org = restricted, org
        self.operations = None if operations is None else set(operations)
        self.props = props.get(proc) or Props()
        self.lanes: dict[str, Lane] = {}
        self.steps: dict[str, StepSpec] = {}
        self.deadline, self.same_day = 0, False
        self.fee: int | None = None
        self.supplement_window: int | None = None
        self.nodes = {
            el.get("id"): el
            for el in proc.iterchildren(etree.Element)
            if etree.QName(el).localname in FLOW_NODES
        }
        self.flows = proc.xpath("./bpmn:sequenceFlow", namespaces=NS)
        self.outgoing: dict[str, list[Any]] = {}
        self.incoming: dict[str, list[Any]] = {}
        for f in self.flows:
            self.outgoing.setdefault(f.get("sourceRef"), []).append(f)
            self.incoming.setdefault(f.get("targetRef"), []).append(f)

    def check(self) -> ProcessCheck:
        self._process_properties()
        self._lanes()
        self._unsupported()
        self._tasks()
        self._flows()
        self._conditions()
        camunda_hints(self.proc, self.found)
        if self.deadline > 0:
            shares = {sid: s.share_minutes for sid, s in self.steps.items()}
            names = {sid: s.name for sid, s in self.steps.items()}
            text = SAME_DAY if self.same_day else format_duration(self.deadline)
            check_shares(self.found, self.proc, shares, names, self.deadline, text)
        return self

    # -- the process ---------------------------------------------------------------------------
    def _duration(self, el: Any, props: Props, key: str) -> int | None:
        value = props.get(key, "0")
        try:
            return parse_duration(value)
        except InvalidData:
            self.found.add(
                "duration",
                el,
                f"{describe(el)}: {PREFIX}{key} {value!r} is not a working-time duration",
                fix="write e.g. 3d, 0.5d, 4h, 90m or 1d4h (one working day is 8 hours)",
                line=props.line(key, el.sourceline),
            )
            return None

    def _process_properties(self) -> None:
        proc, props = self.proc, self.props
        meaning = {
            "procedure-code": "mã TTHC",
            "procedure-name": "tên thủ tục",
            "deadline": "thời hạn giải quyết, e.g. 3d or same-day",
        }
        for key, words in meaning.items():
            if not props.get(key, "").strip():
                self.found.add(
                    "required-property",
                    proc,
                    f"{describe(proc)} lacks {PREFIX}{key} ({words})",
                    fix=f"add the extension property {PREFIX}{key} to the process",
                )
        text = props.get("deadline", "").strip()
        if text:
            line = props.line("deadline", proc.sourceline)
            self.same_day = text.lower() == SAME_DAY
            minutes = MINUTES_PER_DAY if self.same_day else self._duration(proc, props, "deadline")
            if minutes is not None and minutes <= 0:
                self.found.add(
                    "duration",
                    proc,
                    f"{describe(proc)}: {PREFIX}deadline must be positive, not {text!r}",
                    fix="write the legal deadline, e.g. 3d, or same-day",
                    line=line,
                )
            self.deadline = max(minutes or 0, 0)
        if props.get("supplement-window"):
            self.supplement_window = self._duration(proc, props, "supplement-window")
        apology_by = props.get("apology-by", "").strip().lower()
        if apology_by and apology_by not in APOLOGY_BY:
            self.found.add(
                "property-value",
                proc,
                f"{describe(proc)}: {PREFIX}apology-by {props['apology-by']!r} is not one of "
                f"{', '.join(APOLOGY_BY)}",
                fix="write fault (the unit at fault signs the apology) or lead (the lead agency)",
                line=props.line("apology-by", proc.sourceline),
            )
        fee = props.get("fee")
        if fee:
            try:
                self.fee = int(fee)
            except ValueError:
                self.found.add(
                    "property-value",
                    proc,
                    f"{describe(proc)}: {PREFIX}fee {fee!r} is not an integer",
                    fix="write the fee in VND as a whole number, without dots or a currency",
                    line=props.line("fee", proc.sourceline),
                )

    def _lanes(self) -> None:
        self.lane_of: dict[str, str] = {}
        for el in self.proc.xpath(".//bpmn:lane", namespaces=NS):
            lp = self.all_props.get(el) or Props()
            flag = lp.get("coordinating", "false").strip().lower()
            if flag not in ("true", "false"):
                self.found.add(
                    "property-value",
                    el,
                    f"{describe(el)}: {PREFIX}coordinating {lp['coordinating']!r} is neither "
                    "true nor false",
                    fix="write true (a coordinating agency) or false",
                    line=lp.line("coordinating", el.sourceline),
                )
            lane = Lane(
                id=el.get("id"),
                name=el.get("name") or el.get("id"),
                role=lp.get("unit-role") or el.get("id"),
                coordinating=flag == "true",
            )
            self.lanes[lane.id] = lane
            for ref in el.xpath("./bpmn:flowNodeRef", namespaces=NS):
                self.lane_of[(ref.text or "").strip()] = lane.id
            if self.org is not None and not self.org.units_with_role(lane.role):
                self._no_holder(el, lp, lane)
        if not self.lanes:
            self.found.add(
                "no-lanes",
                self.proc,
                f"{describe(self.proc)} has no lanes; every task must sit in a lane that names "
                "the unit working it",
                fix="add a lane per unit (lienthong:unit-role) and put each task in its lane",
            )

    def _no_holder(self, el: Any, lp: Props, lane: Lane) -> None:
        assert self.org is not None
        code = self.props.get("procedure-code") or self.proc.get("id")
        held = sorted({r for u in self.org.units.values() for r in u.roles})
        source = (
            f"its {PREFIX}unit-role"
            if "unit-role" in lp
            else f"its id (it has no {PREFIX}unit-role)"
        )
        self.found.add(
            "lane-role",
            el,
            f"{describe(el)}: no unit of the organisation holds the role {lane.role!r} "
            f"({source}), so procedure {code} could not route a dossier to it",
            fix=(
                f"give a unit the role {lane.role!r} (roles = [...] in the organisation file), or "
                f"set {PREFIX}unit-role to one the organisation has: {', '.join(held) or 'none'}"
            ),
            line=lp.line("unit-role", el.sourceline),
        )

    def _unsupported(self) -> None:
        for el in self.proc.iter(etree.Element):
            what = UNSUPPORTED.get(etree.QName(el).localname)
            if what is not None:
                self.found.add(
                    "unsupported-element",
                    el,
                    f"{describe_host(el)}: lienthong does not run {what[0]} yet",
                    fix=what[1],
                    line=el.sourceline,
                )

    # -- tasks ---------------------------------------------------------------------------------
    def _tasks(self) -> None:
        for tid, el in self.nodes.items():
            tag = etree.QName(el).localname
            if tag not in TASK_TAGS:
                continue
            tp = self.all_props.get(el) or Props()
            kind = _TAG_KIND[tag]
            lane = self.lane_of.get(tid)
            if lane is None and self.lanes:
                self.found.add(
                    "task-in-lane",
                    el,
                    f"{describe(el)} is in no lane",
                    fix="move the task into the lane of the unit that works it",
                )
            step_kind = tp.get("step-kind", "processing")
            if step_kind not in STEP_KINDS:
                self.found.add(
                    "property-value",
                    el,
                    f"{describe(el)}: {PREFIX}step-kind {step_kind!r} is not one of "
                    f"{', '.join(STEP_KINDS)}",
                    fix="write reception, processing or return",
                    line=tp.line("step-kind", el.sourceline),
                )
            op = tp.get("operation") or None
            if kind == "service":
                self._operation(el, tp, op)
            if kind == "script":
                self._script(el)
            fields = tuple(f.strip() for f in tp.get("required-fields", "").split(",") if f.strip())
            self.steps[tid] = StepSpec(
                id=tid,
                name=el.get("name") or tid,
                kind=kind,
                lane=lane or "",
                role=self.lanes[lane].role if lane else "",
                share_minutes=self._duration(el, tp, "share") or 0,
                step_kind=step_kind,
                required_fields=fields,
                operation=op,
            )

    def _operation(self, el: Any, tp: Props, op: str | None) -> None:
        if not op:
            self.found.add(
                "service-operation",
                el,
                f"{describe(el)}: a service task needs {PREFIX}operation naming what a plugin "
                "performs",
                fix=f"add {PREFIX}operation, e.g. social_insurance.issue_card",
            )
        elif self.operations is not None and op not in self.operations:
            known = ", ".join(sorted(self.operations)) or "none"
            self.found.add(
                "unknown-operation",
                el,
                f"{describe(el)} names the operation {op!r}, which no loaded plugin performs "
                f"(known: {known})",
                fix="install the agency's plugin, or correct the operation's name",
                line=tp.line("operation", el.sourceline),
            )

    def _script(self, el: Any) -> None:
        fmt = el.get("scriptFormat")
        if not is_python(fmt):
            self.found.add(
                "script-language",
                el,
                f"{describe(el)}: the script is {fmt}; lienthong runs scripts in Python",
                fix='rewrite it in Python and set scriptFormat="python"',
            )
            return
        scripts = el.xpath("./bpmn:script", namespaces=NS)
        text = "".join(scripts[0].itertext()) if scripts else ""
        if not text.strip():
            self.found.add(
                "script-python",
                el,
                f"{describe(el)} has no script",
                fix="write its script, or make it a user task if a person does the work",
            )
            return
        try:
            check_script(text, restricted=self.restricted)
        except ScriptError as e:
            self.found.add(
                "script-python",
                el,
                f"{describe(el)}: the script is refused: {e}",
                fix="keep to plain Python over the dossier's data: no imports, no names with _",
                line=scripts[0].sourceline,
            )

    # -- flows ---------------------------------------------------------------------------------
    def _flows(self) -> None:
        for f in self.flows:
            for end in ("sourceRef", "targetRef"):
                ref = f.get(end)
                if ref not in self.nodes:
                    side = "from" if end == "sourceRef" else "to"
                    self.found.add(
                        "flow-reference",
                        f,
                        f"{describe(f)} goes {side} {ref!r}, which is no element of the process",
                        fix="draw the flow again between two elements of the process",
                    )
        if not self.proc.xpath("./bpmn:startEvent", namespaces=NS):
            self.found.add(
                "start-event",
                self.proc,
                f"{describe(self.proc)} has no start event",
                fix="add a start event (the dossier submitted) before the first step",
            )
        for nid, el in self.nodes.items():
            tag = etree.QName(el).localname
            out = self.outgoing.get(nid, [])
            if len(out) > 1 and tag not in _SPLITTERS:
                self.found.add(
                    "task-outgoing",
                    el,
                    f"{describe(el)} has {len(out)} outgoing flows; only a gateway may split "
                    "the way",
                    fix="add an exclusive gateway (one way, by conditions) or a parallel gateway "
                    "(every way at once) after it",
                )
            if tag in _CHOICES and len(out) > 1:
                self._choice(el, out)
            if tag in TASK_TAGS and len(self.incoming.get(nid, [])) > 1:
                self.found.add(
                    "fake-join",
                    el,
                    f"{describe(el)} is entered by {len(self.incoming[nid])} flows without a "
                    "gateway: it runs once for each, and does not wait for parallel branches",
                    fix="join the flows in a gateway before it (parallel to wait for every "
                    "branch, exclusive to merge alternatives)",
                )

    def _choice(self, gateway: Any, out: list[Any]) -> None:
        default = gateway.get("default")
        ids = [f.get("id") for f in out]
        for f in out:
            if f.get("id") != default and not _condition_text(f).strip():
                self.found.add(
                    "conditional-flows",
                    f,
                    f"{self.flow_words(f)} has no condition and is not the gateway's default",
                    fix="write a condition on it, or make it the gateway's default flow",
                )
        if default is None:
            self.found.add(
                "gateway-default",
                gateway,
                f"{describe(gateway)} has no default flow: when no condition holds, the dossier "
                "stops there with an error",
                fix="mark the flow of the usual outcome as the default",
            )
        elif default not in ids:
            self.found.add(
                "gateway-default",
                gateway,
                f"{describe(gateway)}: its default {default!r} is not one of its outgoing flows",
                fix="choose one of the gateway's own flows as its default",
            )

    def flow_words(self, flow: Any) -> str:
        def short(ref: str | None) -> str:
            el = self.nodes.get(ref or "")
            name = label(el.get("name") or "") if el is not None else ""
            return f'"{name}"' if name else (ref or "?")

        source, target = short(flow.get("sourceRef")), short(flow.get("targetRef"))
        return f"{describe(flow)} from {source} to {target}"

    def _conditions(self) -> None:
        available = set(RECEPTION_DATA)
        for s in self.steps.values():
            available.update(s.required_fields)
        for el in self.proc.xpath(".//bpmn:scriptTask/bpmn:script", namespaces=NS):
            available |= assigned_names("".join(el.itertext()))
        for cond in self.proc.xpath(".//bpmn:conditionExpression", namespaces=NS):
            owner = cond.getparent()
            flow = etree.QName(owner).localname == "sequenceFlow"
            where = self.flow_words(owner) if flow else describe_host(owner)
            lang = cond.get("language")
            if not is_python(lang):
                self.found.add(
                    "script-language",
                    owner,
                    f"{where}: the condition is in {lang}; lienthong's conditions are Python",
                    fix="write it as a Python expression and remove the language attribute",
                    line=cond.sourceline,
                )
                continue
            check_condition(
                self.found,
                owner,
                where,
                "".join(cond.itertext()),
                line=cond.sourceline,
                restricted=self.restricted,
                available=available,
            )


def _condition_text(flow: Any) -> str:
    found = flow.xpath("./bpmn:conditionExpression", namespaces=NS)
    return "".join(found[0].itertext()) if found else ""


def describe_host(el: Any) -> str:
    """An event definition as its event: ``start event "Hồ sơ nộp" (submitted), a timer``."""
    local = etree.QName(el).localname
    if local.endswith("EventDefinition") and el.getparent() is not None:
        kind = local[: -len("EventDefinition")]
        return f"{describe(el.getparent())}, a {kind} event"
    return describe(el)
