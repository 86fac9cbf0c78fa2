"""The rules a BPMN file is checked against, shared by the loader and ``lienthong lint``.

:func:`check_document` runs every rule over one file and returns every problem it finds, in
document order, with what the loader needs to build the procedure. The loader refuses a file
exactly when this finds an error in it (:func:`lienthong.bpmn.procedures.load_procedure`), so
lint and load never disagree. Two rules need more than the file: lane roles need the
organisation (``org``), service operations need the plugins' operations (``operations``); each
runs only when it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from lxml import etree

from lienthong.bpmn.problems import ERROR, Findings, Problem, describe
from lienthong.bpmn.process_checks import FLOW_NODES, STEP_KINDS, UNSUPPORTED, ProcessCheck
from lienthong.bpmn.properties import NS, Props, read_properties
from lienthong.bpmn.specs import Lane, StepSpec
from lienthong.bpmn.spiff import check_schema, parse_spec
from lienthong.org import Organisation

__all__ = ["STEP_KINDS", "UNSUPPORTED", "Checked", "check_document"]


@attrs.define
class Checked:
    """Every problem of a file, and what the loader builds a procedure from when none is an
    error (``process`` is the one executable process, None when there is not exactly one)."""

    problems: list[Problem]
    root: Any = None
    process: Any = None
    props: Props = attrs.field(factory=Props)
    lanes: dict[str, Lane] = attrs.field(factory=dict)
    steps: dict[str, StepSpec] = attrs.field(factory=dict)
    deadline: int = 0
    same_day: bool = False
    fee: int | None = None
    supplement_window: int | None = None
    spec: Any = None
    subprocess_specs: Any = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]


def check_document(
    data: bytes,
    file: str,
    *,
    restricted_scripts: bool = True,
    org: Organisation | None = None,
    operations: Iterable[str] | None = None,
) -> Checked:
    """Every problem of the BPMN file ``data`` (``file`` names it in the problems)."""
    found = Findings(file)
    checked = Checked(found.items)
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        found.add(
            "xml-syntax",
            None,
            f"not well-formed XML: {e.msg}",
            fix="save the file again from the modeler, or correct the XML at that line",
            line=e.lineno,
        )
        return checked
    if root.tag != f"{{{NS['bpmn']}}}definitions":
        found.add(
            "bpmn-schema",
            None,
            f"not a BPMN 2.0 file: its root element is {etree.QName(root).localname}, "
            "not bpmn:definitions",
            fix="export the diagram from the modeler as BPMN 2.0 XML",
            line=root.sourceline,
        )
        return checked
    checked.root = root
    schema_ok = check_schema(root, found)
    props = read_properties(root, found)
    processes = root.xpath("./bpmn:process", namespaces=NS)
    # SpiffWorkflow's reading: no isExecutable is executable, anything but "true" is not.
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    _executable(found, root, processes, executable)
    for ds in root.xpath("./bpmn:dataStore | .//bpmn:dataStoreReference", namespaces=NS):
        found.add(
            "data-store",
            ds,
            f"{describe(ds)}: lienthong has no data stores; a dossier's data lives in the "
            "dossier (what its steps give)",
            fix="remove the data store; name the data a step needs in lienthong:required-fields",
        )
    models = [
        ProcessCheck(p, props, found, restricted_scripts, org, operations).check()
        for p in (executable or processes)
    ]
    _bpmndi(root, executable or processes, found)
    if len(executable) == 1:
        model = models[0]
        checked.process = executable[0]
        checked.props = model.props
        checked.lanes, checked.steps = model.lanes, model.steps
        checked.deadline, checked.same_day = model.deadline, model.same_day
        checked.fee, checked.supplement_window = model.fee, model.supplement_window
        if schema_ok:
            parsed = parse_spec(root, file, executable[0].get("id"), found)
            if parsed is not None:
                checked.spec, checked.subprocess_specs = parsed
    checked.problems = found.sorted()
    return checked


def _executable(found: Findings, root: Any, processes: list[Any], executable: list[Any]) -> None:
    if not processes:
        found.add(
            "process-executable",
            root,
            "the file has no process (bpmn:process)",
            fix="draw the procedure's process in the modeler and save it again",
        )
    elif not executable:
        for p in processes:
            found.add(
                "process-executable",
                p,
                f'{describe(p)} is not executable (isExecutable="{p.get("isExecutable")}"): '
                "lienthong runs only an executable process",
                fix='set isExecutable="true" (the process\'s "Executable" box in Camunda '
                "Modeler; bpmn.io's new diagram has it off)",
            )
    else:
        for p in executable[1:]:
            found.add(
                "one-executable-process",
                p,
                f"{describe(p)} is executable, and so is {describe(executable[0])}: lienthong "
                "runs one process per file",
                fix='set isExecutable="false" on the pools lienthong does not run, or put each '
                "process in a file of its own",
            )


def _bpmndi(root: Any, processes: list[Any], found: Findings) -> None:
    diagrams = root.xpath("./bpmndi:BPMNDiagram", namespaces=NS)
    if not diagrams:
        found.add(
            "no-bpmndi",
            root,
            "the file has no diagram (BPMNDI): bpmn.io and Camunda Modeler cannot show it",
            fix="open it in a modeler that lays it out (or draw it there) and save it again",
        )
        return
    drawn = set(root.xpath("./bpmndi:BPMNDiagram//@bpmnElement", namespaces=NS))
    for proc in processes:
        for el in proc.iter(etree.Element):
            local = etree.QName(el).localname
            shown = local in FLOW_NODES or local in ("sequenceFlow", "lane")
            if shown and el.getparent() is not None and el.get("id") not in drawn:
                found.add(
                    "no-bpmndi",
                    el,
                    f"{describe(el)} has no shape in the diagram: a modeler does not show it",
                    fix="draw it again in the modeler, or delete it if it is left over",
                )
