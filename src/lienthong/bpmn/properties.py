"""lienthong's name–value extension properties, as each stock modeler writes them.

Camunda 7 (``camunda:properties``), Camunda 8 (``zeebe:properties``) and SpiffArena
(``spiffworkflow:properties``) each keep a list of ``name``/``value`` pairs inside an element's
``bpmn:extensionElements``; all three are read alike. The keys are in :data:`KEYS` and
``docs/bpmn-properties.md``. Reading also reports what would otherwise be dropped without a word:
an unknown or misspelled ``lienthong:`` key (with the key it resembles), a known key on an
element that does not read it, a key written without its prefix, and Camunda attributes that
lienthong does not read (with what to use instead).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from lienthong.bpmn.problems import Findings, describe

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
}
PREFIX = "lienthong:"
FLAVOURS = ("camunda", "spiffworkflow", "zeebe")
TASK_TAGS = ("userTask", "serviceTask", "scriptTask", "manualTask", "task")
#: Activities the engine refuses (see checks._UNSUPPORTED): a step's keys on them are no extra
#: problem, the element itself is.
_OTHER_ACTIVITIES = (
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
    "transaction",
    "adHocSubProcess",
)

#: Every key lienthong reads, and the kind of element it is read on.
KEYS: dict[str, str] = {
    "procedure-code": "process",
    "procedure-name": "process",
    "deadline": "process",
    "required-documents": "process",
    "fee": "process",
    "legal-basis": "process",
    "supplement-window": "process",
    "apology-by": "process",
    "unit-role": "lane",
    "coordinating": "lane",
    "share": "task",
    "step-kind": "task",
    "required-fields": "task",
    "operation": "task",
}
_PLACES = {"process": "processes", "lane": "lanes", "task": "tasks"}


class Props(dict[str, str]):
    """An element's lienthong keys (without the prefix) and their values; ``lines`` gives the
    line of each key's property, for messages."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}

    def line(self, key: str, default: int) -> int:
        return self.lines.get(key, default)


def _place(el: Any) -> str:
    local = etree.QName(el).localname
    if local in ("process", "lane"):
        return local
    if local in TASK_TAGS or local in _OTHER_ACTIVITIES:
        return "task"
    return local


def _property_elements(root: Any) -> Iterator[Any]:
    xpath = " | ".join(f"//bpmn:extensionElements/{f}:properties/{f}:property" for f in FLAVOURS)
    yield from root.xpath(xpath, namespaces=NS)


def read_properties(root: Any, found: Findings) -> dict[Any, Props]:
    """Every element's lienthong keys, by element; what is not read is reported in ``found``."""
    out: dict[Any, Props] = {}
    for prop in _property_elements(root):
        host = prop.getparent().getparent().getparent()
        name, value = prop.get("name") or "", prop.get("value") or ""
        line = prop.sourceline
        if not name.startswith(PREFIX):
            _unprefixed(found, host, name, line)
            continue
        key = name[len(PREFIX) :]
        where = KEYS.get(key)
        if where is None:
            guess = difflib.get_close_matches(key.lower().replace("_", "-"), KEYS, n=1)
            hint = f"; did you mean {PREFIX}{guess[0]}?" if guess else ""
            found.add(
                "lienthong-key",
                host,
                f"{describe(host)}: {name} is not a key lienthong reads{hint}",
                fix=(
                    f"rename it {PREFIX}{guess[0]}"
                    if guess
                    else "use one of the keys in docs/bpmn-properties.md"
                ),
                line=line,
            )
            continue
        place = _place(host)
        if where != place:
            found.add(
                "lienthong-key",
                host,
                f"{describe(host)}: {name} is read on {_PLACES[where]}, not here",
                fix=_move_fix(where, place),
                line=line,
            )
            continue
        props = out.setdefault(host, Props())
        if key in props and props[key] != value:
            found.add(
                "property-conflict",
                host,
                f"{describe(host)} sets {name} twice, to {props[key]!r} and {value!r}",
                fix="keep one of the two properties",
                line=line,
            )
            continue
        props[key] = value
        props.lines.setdefault(key, line)
    return out


def _move_fix(where: str, place: str) -> str:
    if where == "process" and place == "participant":
        return (
            "set it on the process: bpmn.io and Camunda Modeler write a pool's extension "
            "properties on its process"
        )
    return f"move it to the {where} it belongs to"


_LOOKS_PREFIXED = re.compile(r"^\s*li[eê]n\s*th[oô]ng\s*[.:_/-]\s*(.+)$", re.I)


def _unprefixed(found: Findings, host: Any, name: str, line: int) -> None:
    """A property that is lienthong's by its name, without the exact ``lienthong:`` prefix."""
    m = _LOOKS_PREFIXED.match(name)
    rest = m.group(1) if m else name
    key = re.sub(r"[\s_]+", "-", rest.strip().lower())
    if key not in KEYS:
        return
    found.add(
        "property-prefix",
        host,
        f"{describe(host)}: the property {name!r} is not read: lienthong reads {PREFIX}{key}",
        fix=f"rename it {PREFIX}{key}",
        line=line,
    )


#: Camunda 7 attributes (camunda:*) lienthong does not read, and what to use instead.
_STEP_UNIT = "put the task in the lane of the unit (lienthong:unit-role); its officers claim it"
_SHARE = "give the step its share of the deadline with lienthong:share"
_FIELDS = "name the data the officer must give in lienthong:required-fields"
_OPERATION = "name the plugin's operation in lienthong:operation"
_HOOKS = "observe steps with a plugin's hooks (docs/plugin-guide.md)"
CAMUNDA_ATTRIBUTES = {
    "dueDate": _SHARE,
    "followUpDate": _SHARE + "; Engine.tick warns before it falls due",
    "assignee": _STEP_UNIT,
    "candidateUsers": _STEP_UNIT,
    "candidateGroups": _STEP_UNIT,
    "candidateStarterGroups": "the one-stop desk's lane receives the dossier",
    "candidateStarterUsers": "the one-stop desk's lane receives the dossier",
    "formKey": _FIELDS,
    "formRef": _FIELDS,
    "class": _OPERATION,
    "delegateExpression": _OPERATION,
    "expression": _OPERATION,
    "topic": _OPERATION,
    "type": _OPERATION,
    "resultVariable": "assign the variable in the script itself",
}
#: Extension elements of Camunda 7 and 8 lienthong does not read, and what to use instead.
CAMUNDA_ELEMENTS = {
    "camunda:formData": _FIELDS,
    "camunda:inputOutput": "task data is the dossier's data: no mapping is needed",
    "camunda:taskListener": _HOOKS,
    "camunda:executionListener": _HOOKS,
    "camunda:connector": _OPERATION,
    "zeebe:assignmentDefinition": _STEP_UNIT,
    "zeebe:taskSchedule": _SHARE,
    "zeebe:formDefinition": _FIELDS,
    "zeebe:taskDefinition": _OPERATION,
    "zeebe:ioMapping": "task data is the dossier's data: no mapping is needed",
    "zeebe:executionListeners": _HOOKS,
    "zeebe:taskListeners": _HOOKS,
}


def camunda_hints(process: Any, found: Findings) -> None:
    """Report the Camunda attributes and extension elements of ``process`` lienthong ignores."""
    camunda = "{" + NS["camunda"] + "}"
    for el in process.iter(etree.Element):
        for attr in el.attrib:
            if not attr.startswith(camunda):
                continue
            local = attr[len(camunda) :]
            instead = CAMUNDA_ATTRIBUTES.get(local)
            if instead:
                found.add(
                    "camunda-ignored",
                    el,
                    f"{describe(el)}: lienthong does not read camunda:{local}",
                    fix=instead,
                )
    xpath = " | ".join(f"//bpmn:extensionElements/{tag}" for tag in CAMUNDA_ELEMENTS)
    for ext in process.xpath(xpath, namespaces=NS):
        host = ext.getparent().getparent()
        prefix = "camunda" if etree.QName(ext).namespace == NS["camunda"] else "zeebe"
        tag = f"{prefix}:{etree.QName(ext).localname}"
        found.add(
            "camunda-ignored",
            host,
            f"{describe(host)}: lienthong does not read {tag}",
            fix=CAMUNDA_ELEMENTS[tag],
            line=ext.sourceline,
        )
