"""lienthong's Workflow class gives the same task trees as SpiffWorkflow's BpmnWorkflow.

The class only replaces tree walks by cheaper equivalents (see ``lienthong.workflow``). These
tests run the same choices through both classes and compare the whole tree, in SpiffWorkflow's own
order, after every step: on the sample procedures, and on a process made to stress the short cuts
(a three-way parallel split with engine tasks in each branch, nested joins, an inclusive gateway
and a loop). lienthong's side is built either by the class itself or as a copy of a
:class:`~lienthong.bpmn.workflow.Template`, as the engine builds a new dossier's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from lienthong.bpmn.workflow import Template, Workflow

PROCESSES = Path(__file__).resolve().parents[1] / "processes"

STRESS = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="stress" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f0" sourceRef="start" targetRef="init"/>
    <scriptTask id="init"><script>n = 0</script></scriptTask>
    <sequenceFlow id="f1" sourceRef="init" targetRef="round"/>
    <exclusiveGateway id="round"/>
    <sequenceFlow id="f2" sourceRef="round" targetRef="split"/>
    <parallelGateway id="split"/>
    <sequenceFlow id="a1" sourceRef="split" targetRef="sa"/>
    <sequenceFlow id="b1" sourceRef="split" targetRef="sb"/>
    <sequenceFlow id="c1" sourceRef="split" targetRef="uc"/>
    <scriptTask id="sa"><script>a = n + 1</script></scriptTask>
    <sequenceFlow id="a2" sourceRef="sa" targetRef="ua"/>
    <userTask id="ua"/>
    <sequenceFlow id="a3" sourceRef="ua" targetRef="join"/>
    <scriptTask id="sb"><script>b = n + 2</script></scriptTask>
    <sequenceFlow id="b2" sourceRef="sb" targetRef="ub"/>
    <userTask id="ub"/>
    <sequenceFlow id="b3" sourceRef="ub" targetRef="inner"/>
    <userTask id="uc"/>
    <sequenceFlow id="c2" sourceRef="uc" targetRef="inner"/>
    <parallelGateway id="inner"/>
    <sequenceFlow id="i1" sourceRef="inner" targetRef="join"/>
    <parallelGateway id="join"/>
    <sequenceFlow id="j1" sourceRef="join" targetRef="incl"/>
    <inclusiveGateway id="incl" default="x3"/>
    <sequenceFlow id="x1" sourceRef="incl" targetRef="ux">
      <conditionExpression>n == 0</conditionExpression></sequenceFlow>
    <sequenceFlow id="x2" sourceRef="incl" targetRef="uy">
      <conditionExpression>n &lt; 2</conditionExpression></sequenceFlow>
    <sequenceFlow id="x3" sourceRef="incl" targetRef="uz"/>
    <userTask id="ux"/>
    <userTask id="uy"/>
    <userTask id="uz"/>
    <sequenceFlow id="x4" sourceRef="ux" targetRef="merge"/>
    <sequenceFlow id="x5" sourceRef="uy" targetRef="merge"/>
    <sequenceFlow id="x6" sourceRef="uz" targetRef="merge"/>
    <inclusiveGateway id="merge"/>
    <sequenceFlow id="m1" sourceRef="merge" targetRef="count"/>
    <scriptTask id="count"><script>n = n + 1</script></scriptTask>
    <sequenceFlow id="m2" sourceRef="count" targetRef="again"/>
    <exclusiveGateway id="again" default="done"/>
    <sequenceFlow id="loop" sourceRef="again" targetRef="round">
      <conditionExpression>n &lt; 2</conditionExpression></sequenceFlow>
    <sequenceFlow id="done" sourceRef="again" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>
"""


def _spec(source: str | Path, process_id: str) -> Any:
    parser = BpmnParser()
    if isinstance(source, Path):
        parser.add_bpmn_file(str(source))
    else:
        from lxml import etree

        parser.add_bpmn_xml(etree.fromstring(source.encode()), filename="stress.bpmn")
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


def _picture(wf: BpmnWorkflow) -> list[tuple[str, str, dict[str, Any]]]:
    """The whole tree in SpiffWorkflow's own order (its iterator, not lienthong's)."""
    return [
        (t.task_spec.name, TaskState.get_name(t.state), dict(t.data))
        for t in BpmnWorkflow.get_tasks(wf)
    ]


def _ready_manual(wf: BpmnWorkflow) -> list[Any]:
    return [t for t in BpmnWorkflow.get_tasks(wf, state=TaskState.READY) if t.task_spec.manual]


def _run_both(
    spec: Any,
    subs: Any,
    choices: list[int],
    data: dict[str, Any] | None = None,
    template: Template | None = None,
) -> tuple[BpmnWorkflow, BpmnWorkflow, int]:
    """Drive lienthong's class (a copy of ``template`` if given) and SpiffWorkflow's with the same
    choices, giving each task ``data``; compare the trees after every step. Returns both
    workflows and the steps run."""
    ours = template.new() if template is not None else Workflow(spec, subs)
    theirs = BpmnWorkflow(spec, subs)
    for wf in (ours, theirs):
        wf.data.update(data or {})
        wf.task_tree.data.update(data or {})
        wf.do_engine_steps()
    steps = 0
    for choice in [*choices, *([0] * 200)]:
        assert _picture(ours) == _picture(theirs)
        a, b = _ready_manual(ours), _ready_manual(theirs)
        assert [t.task_spec.name for t in a] == [t.task_spec.name for t in b]
        if not a:
            break
        i = choice % len(a)
        for t in (a[i], b[i]):
            t.data.update(data or {"by": steps})
            if t.run() is None:  # a service task's spec runs nothing: the engine completes it
                t.complete()
        ours.do_engine_steps()
        theirs.do_engine_steps()
        steps += 1
    assert ours.completed == theirs.completed
    assert ours.data == theirs.data
    return ours, theirs, steps


def _process_id(path: Path) -> str:
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    return str(root.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}process").get("id"))


# Conditions in the sample procedures read these; both classes see the same values.
_SAMPLE_DATA: dict[str, Any] = {
    "dossier_code": "X",
    "channel": 1,
    "applicant": {"name": "A"},
    "documents": [],
    "accepted": True,
    "tax_due": True,
    "birth_certificate_no": "KS-1",
    "residence_registration_no": "TT-1",
    "eligible": True,
}


@pytest.mark.parametrize("copied", [False, True], ids=["built", "copied"])
@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.stem)
def test_the_sample_procedures_run_alike(path: Path, copied: bool) -> None:
    spec, subs = _spec(path, _process_id(path))
    template = Template(spec, subs) if copied else None
    for choices in ([], [1, 1, 1], [2, 0, 1, 2]):
        # Parsed here by SpiffWorkflow alone, a service task is not a manual one: both classes
        # stop at it alike, after the user steps before it.
        _ours, _theirs, steps = _run_both(spec, subs, choices, _SAMPLE_DATA, template)
        assert steps > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), max_size=40), st.booleans())
def test_any_order_of_work_gives_the_same_trees(choices: list[int], copied: bool) -> None:
    spec, subs = _spec(STRESS, "stress")
    template = Template(spec, subs) if copied else None
    ours, _theirs, steps = _run_both(spec, subs, choices, template=template)
    # Two rounds of at least four user tasks each (how many inclusive branches a round takes
    # depends on which branch's data the joins merge last, the same in both classes).
    assert ours.completed and steps >= 9


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5), max_size=12),
    st.sampled_from(
        [
            *TaskState._values,
            TaskState.FINISHED_MASK,
            TaskState.ANY_MASK,
            TaskState.NOT_FINISHED_MASK,
        ]
    ),
    st.sampled_from([None, "ua", "join", "incl", "uz", "nothing"]),
    st.sampled_from([None, True, False]),
)
def test_get_tasks_answers_as_spiffworkflow_does(
    choices: list[int], state: int, spec_name: str | None, manual: bool | None
) -> None:
    spec, subs = _spec(STRESS, "stress")
    wf = Workflow(spec, subs)
    wf.do_engine_steps()
    for choice in choices:
        kwargs: dict[str, Any] = {"state": state}
        if spec_name is not None:
            kwargs["spec_name"] = spec_name
        if manual is not None:
            kwargs["manual"] = manual
        assert wf.get_tasks(**kwargs) == BpmnWorkflow.get_tasks(wf, **kwargs)
        # From each task of the tree, as the end events ask.
        for first in list(wf.tasks.values()):
            assert wf.get_tasks(first, **kwargs) == BpmnWorkflow.get_tasks(wf, first, **kwargs)
        ready = _ready_manual(wf)
        if not ready:
            break
        ready[choice % len(ready)].run()
        wf.do_engine_steps()


def test_state_changes_log_the_same_records_when_logging_is_on() -> None:
    # lienthong's Task builds a state change's log record only when the logger will write it;
    # when it will, the records must be SpiffWorkflow's.
    import logging

    spec, subs = _spec(STRESS, "stress")
    logger = logging.getLogger("spiff.task")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    def run(cls: type) -> list[tuple[str, ...]]:
        records.clear()
        wf = cls(spec, subs)
        wf.do_engine_steps()
        for _ in range(40):
            ready = _ready_manual(wf)
            if not ready:
                break
            ready[-1].run()
            wf.do_engine_steps()
        return [
            (r.levelname, r.getMessage(), r.task_spec, r.state, r.task_type)  # type: ignore[attr-defined]
            for r in records
        ]

    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        ours, theirs = run(Workflow), run(BpmnWorkflow)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert len(ours) > 50 and ours == theirs


def test_every_task_of_a_workflow_is_lienthongs_however_it_was_made() -> None:
    from lienthong.bpmn.state import _dump_spiff, dump_state, load_state
    from lienthong.bpmn.workflow import Task

    spec, subs = _spec(STRESS, "stress")
    wf = Workflow(spec, subs)
    wf.do_engine_steps()
    _ready_manual(wf)[0].run()
    wf.do_engine_steps()
    engine = wf.script_engine
    for made in (
        wf,
        load_state(dump_state(wf), spec, subs, engine),
        load_state(_dump_spiff(wf), spec, subs, engine),
    ):
        assert type(made) is Workflow
        assert {type(t) for t in made.tasks.values()} == {Task}
        assert _picture(made) == _picture(wf)


def _layout(wf: BpmnWorkflow) -> list[tuple[Any, ...]]:
    """Every task in creation order, its parent and children as positions in that order."""
    at = {t.id: i for i, t in enumerate(wf.tasks.values())}
    return [
        (
            t.task_spec.name,
            t.state,
            at.get(t._parent),
            [at[c] for c in t._children],
            t.data,
            t.internal_data,
            t.triggered,
            t.thread_id,
            type(t),
            sorted(k for k in t.__dict__ if not k.startswith("_lienthong")),
        )
        for t in wf.tasks.values()
    ]


@pytest.mark.parametrize(
    "source",
    [*sorted(PROCESSES.glob("*.bpmn")), STRESS],
    ids=lambda p: getattr(p, "stem", "stress"),
)
def test_a_copy_of_the_template_is_the_workflow_the_class_builds(source: Any) -> None:
    import time

    spec, subs = _spec(source, _process_id(source) if isinstance(source, Path) else "stress")
    template = Template(spec, subs)
    before = time.time()
    built, copies = Workflow(spec, subs), [template.new(), template.new()]
    for wf in copies:
        assert type(wf) is Workflow and wf.spec is spec and wf.subprocess_specs == (subs or {})
        assert _layout(wf) == _layout(built)
        assert (wf.data, wf.success, wf.completed, wf.last_task) == (
            built.data,
            built.success,
            built.completed,
            built.last_task,
        )
        assert wf.task_tree is wf.tasks[wf.task_tree.id] and wf.task_tree._parent is None
        # New ids, uuid4's kind; state-change times of the copy's moment, in the same order.
        assert all(t.id.version == 4 and t.workflow is wf for t in wf.tasks.values())
        times = [t.last_state_change for t in wf.tasks.values()]
        built_times = [t.last_state_change for t in built.tasks.values()]
        assert min(times) >= before - 1
        assert sorted(range(len(times)), key=times.__getitem__) == sorted(
            range(len(built_times)), key=built_times.__getitem__
        )
    ids = [set(wf.tasks) for wf in (template._workflow, *copies)]
    assert not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]
    # Running a copy to its end leaves the template, and so the next copy, as it was.
    copies[0].data["x"] = [1]
    copies[0].task_tree.data["x"] = [1]
    copies[0].do_engine_steps()
    assert _layout(template.new()) == _layout(built)


def test_the_workflows_own_records_are_spiffworkflows_when_logging_is_on() -> None:
    # The details of "Initialized workflow" / "Workflow completed" (a walk of the whole tree)
    # are gathered only when the spiff.workflow logger will write them; when it will, the
    # records must carry SpiffWorkflow's details.
    import logging

    spec, subs = _spec(STRESS, "stress")
    logger = logging.getLogger("spiff.workflow")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    def run(make: Any) -> list[tuple[Any, ...]]:
        records.clear()
        wf = make()
        wf.do_engine_steps()
        while ready := _ready_manual(wf):
            ready[0].run()
            wf.do_engine_steps()
        assert wf.completed
        return [
            (
                r.getMessage(),
                r.workflow_spec,  # type: ignore[attr-defined]
                r.completed,  # type: ignore[attr-defined]
                r.root == wf.task_tree.id,  # type: ignore[attr-defined]
                len(r.tasks),  # type: ignore[attr-defined]
            )
            for r in records
        ]

    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        theirs = run(lambda: BpmnWorkflow(spec, subs))
        ours = run(lambda: Workflow(spec, subs))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r[0] for r in theirs] == ["Initialized workflow", "Workflow completed"]
    assert ours == theirs
    # With the logger off, nothing is gathered: no record, and the tree is not walked.
    records.clear()
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        wf = Workflow(spec, subs)
        assert wf.collect_log_extras() == {} and records == []
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), max_size=20))
def test_is_descendant_of_answers_as_spiffworkflow_does(choices: list[int]) -> None:
    from SpiffWorkflow.task import Task as SpiffTask

    spec, subs = _spec(STRESS, "stress")
    wf = Workflow(spec, subs)
    wf.do_engine_steps()
    for choice in [*choices, None]:
        tasks = list(wf.tasks.values())
        for a in tasks:
            for b in tasks:
                assert a.is_descendant_of(b) == SpiffTask.is_descendant_of(a, b)
        ready = _ready_manual(wf)
        if not ready or choice is None:
            break
        ready[choice % len(ready)].run()
        wf.do_engine_steps()


_JSONISH = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcd"), _JSONISH, max_size=4),
    st.dictionaries(st.sampled_from("abcd"), _JSONISH, max_size=4),
    st.booleans(),
)
def test_inherit_data_merges_as_spiffworkflow_does(
    mine: dict[str, Any], parents: dict[str, Any], equal: bool
) -> None:
    import copy

    from SpiffWorkflow.task import Task as SpiffTask

    spec, subs = _spec(STRESS, "stress")
    results = []
    for inherit in (SpiffTask._inherit_data, None):
        wf = Workflow(spec, subs)
        child = next(t for t in wf.tasks.values() if t._parent is not None)
        parent = wf.tasks[child._parent]
        parent.data = copy.deepcopy(parents)
        child.data = copy.deepcopy(parents if equal else mine)
        before = child.data
        try:
            (inherit or type(child)._inherit_data)(child)
        except Exception as e:  # SpiffWorkflow's merge fails on some shapes: so must ours
            results.append((type(e).__name__, str(e)))
            continue
        # The same dict, the same contents, and the same sharing of values with the parent's.
        results.append(
            (
                child.data is before,
                repr(child.data),
                [child.data[k] is parent.data.get(k) for k in child.data],
            )
        )
    assert results[0] == results[1]


def test_task_ids_are_uuid4s_never_repeated_nor_shared_with_a_forked_child() -> None:
    import os
    import uuid

    from lienthong.bpmn.workflow import new_ids

    ids = new_ids(500)
    assert len(set(ids)) == 500
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    # A workflow's tasks made as it runs take theirs from the same batches.
    spec, subs = _spec(STRESS, "stress")
    wf = Workflow(spec, subs)
    wf.do_engine_steps()
    assert all(t.id.version == 4 for t in wf.tasks.values())
    # A forked process draws its own: the batch its parent had drawn ahead is not inherited.
    from lienthong.bpmn import workflow

    workflow._IDS.clear()
    new_ids(1)  # the parent holds the rest of a batch when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_ids(1)[0].bytes)
        os._exit(0)
    os.waitpid(pid, 0)
    child = uuid.UUID(bytes=os.read(read, 16))
    os.close(read)
    os.close(write)
    assert child not in set(new_ids(64))
