"""A dossier's SpiffWorkflow state, stored without its process definition.

SpiffWorkflow's default serializer writes the whole process spec into every workflow it saves. A
dossier already points at its procedure version, whose spec is parsed once and kept in memory, so
lienthong stores only the task tree and data, in one of two layouts told apart by a header:

- ``LT2`` (the usual one, plain JSON): a flat list of tasks in creation order — id, parent's id,
  spec name, state, last state change, triggered, internal data, and the task's data as a
  difference from its parent's — written and read directly, because SpiffWorkflow's generic
  converter registry costs more than the rest of a command.
- ``LT1``: SpiffWorkflow's own converters with the spec left out, zlib-compressed, used for
  workflows with subprocesses or pending BPMN events, which the flat layout does not cover.

A new layout gets a new header; the old readers stay, so stored dossiers always load.
"""

from __future__ import annotations

import copy
import json
import zlib
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task as SpiffTask

from lienthong.bpmn.workflow import Task, Workflow
from lienthong.errors import InvalidData, ScriptError
from lienthong.plaindata import check_plain

_HEADER = b"LT1"
_FLAT = b"LT2"
_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: ``==`` says 1 == 1.0 == True and 0.0 == -0.0, which JSON keeps apart,
    so a field changed only in type would be left out of a task's delta and read back as the
    old value after a restart."""
    if a is b:
        return True
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        return len(a) == len(b) and all(k in b and _same(v, b[k]) for k, v in a.items())
    if t is list or t is tuple:
        return len(a) == len(b) and all(map(_same, a, b))
    if t is float:
        return a == b and str(a) == str(b)  # -0.0 and 0.0; NaN is refused before this
    return bool(a == b)


def _identical(data: dict[str, Any], pdata: dict[str, Any]) -> bool:
    """Two task data that are ``==``, checked as stored; the usual case in C (orjson's bytes
    tell 1 from 1.0 and True), the rest (keys in another order) field by field."""
    try:
        if orjson.dumps(data) == orjson.dumps(pdata):
            return True
    except orjson.JSONEncodeError:
        pass
    return _same(data, pdata)


def _changed(data: dict[str, Any], pdata: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` that differ from ``pdata`` as stored."""
    return {k: v for k, v in data.items() if not _same(pdata.get(k, _MISSING), v)}


class _StateOnlyConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter, minus the spec it would repeat in every dossier."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self,
        dct: dict[str, Any],
        spec: Any = None,
        subprocess_specs: Any = None,
        script_engine: Any = None,
    ) -> BpmnWorkflow:
        workflow = Workflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> Any:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _StateOnlyConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # lienthong's workflow class is written under SpiffWorkflow's name, so that the stored state
    # does not depend on which of the two classes ran it.
    _StateOnlyConverter(Workflow, registry, typename="BpmnWorkflow")
    registry.typenames[Task] = registry.typenames[SpiffTask]
    return registry


_SERIALIZER = BpmnWorkflowSerializer(registry=_registry())


def dump_state(workflow: BpmnWorkflow, dossier: str | None = None) -> bytes:
    """The workflow's state (task tree and data, no spec) as compressed bytes.

    Raises :class:`ScriptError`, naming the dossier and the element, if a task's data holds what
    the state would not give back as it was (:mod:`lienthong.plaindata`): officers' and plugins'
    data is checked before it reaches the workflow, so what is left is a script's doing.
    """
    where = f"dossier {dossier}" if dossier else "workflow"
    if not workflow.subprocesses and not workflow.bpmn_events and not workflow.correlations:
        return _dump_flat(workflow, where)
    _check_all(workflow, where)
    return _dump_spiff(workflow)


def _check_fields(fields: Any, where: str, task: Any = None) -> None:
    if task is not None:
        spec = task.task_spec
        where = f"{where}: element {getattr(spec, 'bpmn_id', None) or spec.name!r}"
    try:
        for k, v in fields.items():
            if type(k) is not str:
                raise InvalidData(f"{where}: field name {k!r} is not a string")
            # Field by field: the limits are a field's, as for officers' data; the names are
            # not held to officers' rule, since a full-Python script may leave a `_` behind.
            check_plain(v, where, path=k)
    except InvalidData as e:
        raise ScriptError(str(e)) from None


def _check_all(workflow: BpmnWorkflow, where: str) -> None:
    """The LT1 layout's check: each task's data where it differs from its parent's."""
    for wf in (workflow, *workflow.subprocesses.values()):
        _check_fields(wf.data, f"{where}: workflow data")
        for task in wf.tasks.values():
            parent = wf.tasks.get(task._parent) if task._parent is not None else None
            data = task.data
            if parent is None:
                _check_fields(data, where, task)
            elif data != parent.data:
                pdata = parent.data
                _check_fields(_changed(data, pdata), where, task)


def _dump_spiff(workflow: BpmnWorkflow) -> bytes:
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
    if blob.startswith(_FLAT):
        return _load_flat(blob, spec, subprocess_specs, script_engine)
    if not blob.startswith(_HEADER):
        raise ValueError("unknown workflow state format")
    dct = json.loads(zlib.decompress(blob[len(_HEADER) :]), cls=_SERIALIZER.json_decoder_cls)
    wf: BpmnWorkflow = _SERIALIZER.registry.restore(
        dct, spec=spec, subprocess_specs=subprocess_specs, script_engine=script_engine
    )
    return wf


def default_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer, spec included: the baseline the benchmark compares with.

    Its default configuration lacks a converter for the standard ``bpmn:serviceTask`` spec (only
    the SpiffArena flavour has one), so the generic task-spec converter is added for it.
    """
    config = dict(DEFAULT_CONFIG)
    config[ServiceTask] = BpmnTaskSpecConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # It writes lienthong's workflow class as a BpmnWorkflow, and reads back SpiffWorkflow's own
    # class, so that the baseline stays SpiffWorkflow alone.
    registry.typenames[Workflow] = "BpmnWorkflow"
    registry.typenames[Task] = registry.typenames[SpiffTask]
    return BpmnWorkflowSerializer(registry=registry)


_FINAL = 64 | 128 | 256  # COMPLETED, ERROR, CANCELLED: such a task never changes again


def forget_rows(wf: BpmnWorkflow) -> None:
    """Drop the rows :func:`dump_state` keeps on the tasks of a workflow whose tasks changed in a
    way their state does not show: a migration gives finished tasks another element (the row
    names the element), so each row is worked out again at the next save."""
    for task in wf.tasks.values():
        task.__dict__.pop("_lienthong_row", None)
        task.__dict__.pop("_lienthong_empty", None)
    wf.__dict__.pop("_lienthong_preorder", None)


def _hex(task: Any) -> str:
    # UUID.hex formats the 128-bit integer anew on every call: keep it on the task.
    h: str | None = task.__dict__.get("_lienthong_hex")
    if h is None:
        h = task.__dict__["_lienthong_hex"] = task.id.hex
    return h


def _dump_flat(wf: BpmnWorkflow, where: str = "workflow") -> bytes:
    # A task whose state is final, and whose parent's is too, has the same row forever: keep its
    # row on the task object, so a command works out only the tasks it touched; then one call
    # of the C JSON encoder writes the lot.
    rows = []
    tasks = wf.tasks
    for task in tasks.values():
        row = task.__dict__.get("_lienthong_row")
        if row is None and not task.data and not task.internal_data:
            # A predicted task with no data yet: its row changes only with its state.
            row = task.__dict__.get("_lienthong_empty")
            if row is not None and (row[3] != task._state or row[4] != task.last_state_change
                                    or row[5] != task.triggered):
                row = None
        if row is None:
            parent = tasks.get(task._parent) if task._parent is not None else None
            data = task.data
            delta: Any
            gone: Any
            if not data:
                delta, gone = 0, 0  # not yet inherited (a FUTURE task): empty
            elif parent is None:
                delta, gone = data, 0
            else:
                pdata = parent.data
                if data is pdata or (data == pdata and _identical(data, pdata)):
                    delta, gone = {}, 0
                else:
                    delta = _changed(data, pdata)
                    gone = [k for k in pdata if k not in data] or 0
            if delta:
                # Only what changed: the rest was checked where it first appeared.
                _check_fields(delta, where, task)
            row = [
                _hex(task),
                _hex(parent) if parent is not None else None,
                task.task_spec.name,
                task._state,
                task.last_state_change,
                task.triggered,
                task.internal_data or 0,
                delta,
                gone,
            ]
            if task._state & _FINAL and (parent is None or parent._state & _FINAL):
                task.__dict__["_lienthong_row"] = row
            elif delta == 0 and not task.internal_data:
                task.__dict__["_lienthong_empty"] = row
        rows.append(row)
    objects = wf.data.get("data_objects")
    if objects:
        # Scripts reach the workflow's own data only through BPMN data objects; the rest of it
        # is receive()'s, checked there.
        _check_fields(objects, f"{where}: data object")
    doc = {
        "d": wf.data,
        "s": wf.success,
        "c": wf.completed,
        "l": _hex(wf.last_task) if wf.last_task is not None else None,
        "r": _hex(wf.task_tree),
        "t": rows,
    }
    # Plain JSON, not compressed: zlib would cost a fifth of a command for a blob that is
    # already a tenth of SpiffWorkflow's, and SQLite's JSON functions can read it as it is.
    return _FLAT + _encode(doc)


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encode(doc: dict[str, Any]) -> bytes:
    """UTF-8 JSON of the state; orjson writes it several times faster than the json module.

    orjson would write some values the json module refuses (dates, dataclasses) or writes
    otherwise (integers beyond 53 bits, keys that are not strings). Those are passed to
    :func:`_refuse`, or make orjson raise, and then the json module decides as it always did.
    The values on which the two would differ (a float NaN or infinity, which orjson writes as
    ``null``; a UUID or an enum member, which it writes as text or value) do not reach it: the
    task data is checked first (:func:`_check_fields`).
    """
    try:
        return orjson.dumps(doc, default=_refuse, option=_ORJSON_OPTIONS)
    except TypeError:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_STRICT_INTEGER
)


def _load_flat(blob: bytes, spec: Any, subprocess_specs: Any, script_engine: Any) -> BpmnWorkflow:
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
    from SpiffWorkflow.util.task import TaskState

    doc = orjson.loads(blob[len(_FLAT) :])
    wf = Workflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
    wf.tasks = {}
    specs = spec.task_specs
    for tid, parent, name, state, changed, triggered, internal, delta, gone in doc["t"]:
        task = Task(wf, specs[name], state=state, id=UUID(hex=tid))
        if parent is not None:
            p = wf.tasks[UUID(hex=parent)]
            task._parent = p.id
            p._children.append(task.id)
            if delta == 0:
                task.data = {}  # not yet inherited
            else:
                data = copy.deepcopy(p.data)  # as SpiffWorkflow does: no shared nested values
                data.update(delta)
                for k in gone or ():
                    data.pop(k, None)
                task.data = data
        else:
            task._parent = None
            task.data = dict(delta or {})
        task.last_state_change = changed
        task.triggered = triggered
        task.internal_data = internal or {}
        if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            wf.event_manager.add_task(task)
    wf.task_tree = wf.tasks[UUID(hex=doc["r"])]
    wf.data = doc["d"]
    wf.success = doc["s"]
    wf.completed = doc["c"]
    wf.last_task = wf.tasks.get(UUID(hex=doc["l"])) if doc["l"] else None
    return wf
