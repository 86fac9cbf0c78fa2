"""A dossier's SpiffWorkflow state, stored without its process definition.

SpiffWorkflow's default serializer writes the whole process spec into every workflow it saves. A
dossier already points at its procedure version, whose spec is parsed once and kept in memory, so
lienthong stores only the task tree and data: SpiffWorkflow's own converters with the spec left
out, as compact JSON compressed with zlib. ``STATE_VERSION`` is bumped, with a migration, whenever
that layout changes.
"""

from __future__ import annotations

import json
import zlib
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter

STATE_VERSION = 1
_HEADER = b"LT1"


class _StateOnlyConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter, minus the spec it would repeat in every dossier."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None,
        script_engine: Any = None,
    ) -> BpmnWorkflow:
        workflow = self.target_class(
            spec, subprocess_specs, script_engine=script_engine, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> Any:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _StateOnlyConverter
    return BpmnWorkflowSerializer.configure(config)


_SERIALIZER = BpmnWorkflowSerializer(registry=_registry())


def dump_state(workflow: BpmnWorkflow) -> bytes:
    """The workflow's state (task tree and data, no spec) as compressed bytes."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
        text = json.dumps(dct, separators=(",", ":"), cls=_SERIALIZER._encoder_cls)
    finally:
        registry._encoder_mode = False
    return _HEADER + zlib.compress(text.encode("utf-8"), 6)


def load_state(
    blob: bytes, spec: Any, subprocess_specs: Any, script_engine: PythonScriptEngine
) -> BpmnWorkflow:
    """Rebuild a workflow from :func:`dump_state` bytes and the procedure's parsed spec."""
    if not blob.startswith(_HEADER):
        raise ValueError("unknown workflow state format")
    dct = json.loads(zlib.decompress(blob[len(_HEADER):]), cls=_SERIALIZER.json_decoder_cls)
    wf: BpmnWorkflow = _SERIALIZER.registry.restore(
        dct, spec=spec, subprocess_specs=subprocess_specs, script_engine=script_engine
    )
    return wf


def default_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer, spec included: the baseline the benchmark compares with."""
    return BpmnWorkflowSerializer()
