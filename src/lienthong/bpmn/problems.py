"""What is wrong with a BPMN file, as records: one :class:`Problem` per problem, each from a named
rule (:data:`RULES`), the way bpmnlint and Camunda Modeler's problems panel report them.

The loader and ``lienthong lint`` share these rules (:mod:`lienthong.bpmn.checks`): a file loads
exactly when lint finds no error in it. A rule whose default severity is ``error`` is one the
engine refuses a file for; only ``warning`` rules can be turned off or changed in a project's
lint configuration (:mod:`lienthong.bpmn.lint`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs
from lxml import etree

ERROR = "error"
WARNING = "warning"


@attrs.frozen
class Problem:
    """One problem in one file.

    ``line`` is the line the problem is on (the property, the condition, the element), ``0`` for
    a problem of the whole file (it cannot be read). ``element`` is the BPMN id and ``name`` the
    label the designer sees in the modeler (``""`` when it has none); ``type`` is the element's
    BPMN type (``userTask``, ``sequenceFlow``, ...). ``fix`` says in plain words what to do.
    """

    file: str
    line: int
    element: str
    name: str
    type: str
    severity: str
    rule: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``file, line, element, name, type, severity, rule, message, fix``."""
        return attrs.asdict(self)

    def sentence(self) -> str:
        """``file: line N: message (fix: ...) [rule]``, as a ProcedureError says it."""
        where = f"{self.file}: line {self.line}: " if self.line else f"{self.file}: "
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{self.message}{fix} [{self.rule}]"


@attrs.frozen
class Rule:
    """A named check: its default severity and what it looks for (one line, for the docs)."""

    name: str
    severity: str
    summary: str


def _rules(*rows: tuple[str, str, str]) -> dict[str, Rule]:
    return {name: Rule(name, severity, summary) for name, severity, summary in rows}


#: Every rule, in the order docs/designers.md lists them.
RULES: dict[str, Rule] = _rules(
    ("file-read", ERROR, "the file cannot be read, or is over the size limit"),
    ("xml-syntax", ERROR, "the file is not well-formed XML"),
    ("bpmn-schema", ERROR, "the file does not follow the BPMN 2.0 schema (XSD)"),
    ("process-executable", ERROR, 'no process is executable (isExecutable="false")'),
    ("one-executable-process", ERROR, "several processes are executable"),
    ("required-property", ERROR, "the process lacks lienthong:procedure-code, -name or deadline"),
    ("duration", ERROR, "a deadline, share or window is not a working-time duration"),
    ("property-value", ERROR, "a fee, step kind or coordinating flag has a value not allowed"),
    ("property-conflict", ERROR, "an element sets one lienthong key twice, to different values"),
    (
        "lienthong-key",
        ERROR,
        "an unknown or misspelled lienthong:* key, or one on the wrong kind",
    ),
    ("property-prefix", ERROR, "a lienthong key written without its lienthong: prefix"),
    ("no-lanes", ERROR, "the process has no lanes"),
    ("task-in-lane", ERROR, "a task sits in no lane"),
    ("lane-role", ERROR, "no unit of the organisation holds a lane's role"),
    ("unsupported-element", ERROR, "an element the engine cannot run (timers, messages, ...)"),
    ("data-store", ERROR, "a data store (lienthong keeps data in the dossier)"),
    ("service-operation", ERROR, "a service task without lienthong:operation"),
    ("unknown-operation", ERROR, "a service task's operation no loaded plugin performs"),
    ("script-language", ERROR, "a script or condition in a language other than Python"),
    ("script-python", ERROR, "a script that is missing, not Python, or refused by the sandbox"),
    ("start-event", ERROR, "the process has no start event"),
    ("flow-reference", ERROR, "a sequence flow from or to an element that does not exist"),
    ("task-outgoing", ERROR, "a task or event with several outgoing flows and no gateway"),
    ("conditional-flows", ERROR, "a gateway's flow with no condition that is not its default"),
    ("condition-juel", ERROR, "a JUEL/SpEL condition (${...}, #{...})"),
    ("condition-feel", ERROR, "a FEEL condition (Camunda 8: =...)"),
    ("condition-literal", ERROR, "true/false/null in a condition (Python: True/False/None)"),
    ("condition-assign", ERROR, "= in a condition where == (compare) is meant"),
    ("condition-python", ERROR, "a condition that is not a Python expression the sandbox allows"),
    ("share-over-deadline", ERROR, "the shares along a path add up to more than the deadline"),
    ("bpmn-engine", ERROR, "SpiffWorkflow, the BPMN engine, cannot read the process"),
    ("condition-name", WARNING, "a condition reads a name no step, script or reception gives"),
    ("gateway-default", WARNING, "an exclusive or inclusive gateway without a default flow"),
    ("fake-join", WARNING, "a task that several flows enter, with no gateway to join them"),
    ("camunda-ignored", WARNING, "a Camunda attribute or element lienthong does not read"),
    ("no-bpmndi", WARNING, "the file (or an element) has no diagram: a modeler cannot show it"),
)


#: Words for BPMN types in messages, as Camunda Modeler names them.
_TYPE_WORDS = {
    "sequenceFlow": "flow",
    "definitions": "file",
    "intermediateCatchEvent": "intermediate event",
    "intermediateThrowEvent": "intermediate event",
}


def type_words(localname: str) -> str:
    """``userTask`` -> ``user task``."""
    return _TYPE_WORDS.get(localname) or re.sub(r"(?<!^)([A-Z])", r" \1", localname).lower()


def label(name: str) -> str:
    """A name as the modeler shows it, on one line (bpmn.io writes wrapped labels with
    newlines)."""
    return " ".join((name or "").split())


def describe(el: Any) -> str:
    """``user task "Đăng ký khai sinh" (register_birth)``; ``parallel gateway split``."""
    kind = type_words(etree.QName(el).localname)
    eid, name = el.get("id") or "?", label(el.get("name") or "")
    return f'{kind} "{name}" ({eid})' if name else f"{kind} {eid}"


def host_of(el: Any) -> Any:
    """The element a designer clicks for ``el``: the event for its event definition (a timer's
    ``TimerEventDefinition_…`` id is hidden in the modeler), else ``el`` itself."""
    if etree.QName(el).localname.endswith("EventDefinition") and el.getparent() is not None:
        return el.getparent()
    return el


class Findings:
    """The problems of one file, in the order found; :meth:`sorted` gives document order."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(
        self,
        rule: str,
        el: Any,
        message: str,
        *,
        fix: str = "",
        line: int | None = None,
    ) -> Problem:
        """A problem of ``rule`` on element ``el`` (None: the whole file) at ``line`` (default:
        the element's)."""
        spec = RULES[rule]
        if el is not None:
            el = host_of(el)
            where = el.sourceline if line is None else line
            found = Problem(
                file=self.file,
                line=where or 0,
                element=el.get("id") or "",
                name=label(el.get("name") or ""),
                type=etree.QName(el).localname,
                severity=spec.severity,
                rule=rule,
                message=message,
                fix=fix,
            )
        else:
            found = Problem(self.file, line or 0, "", "", "", spec.severity, rule, message, fix)
        self.items.append(found)
        return found

    def has_error_on(self, element_id: str) -> bool:
        return any(p.element == element_id and p.severity == ERROR for p in self.items)

    def sorted(self) -> list[Problem]:
        # A stable sort: problems on one line keep the order the checks found them in.
        return sorted(self.items, key=lambda p: p.line)


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]
