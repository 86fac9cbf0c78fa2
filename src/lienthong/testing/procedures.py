"""Random procedures: BPMN files with random lanes, steps, shares and deadlines that
``Engine.load_procedure`` loads, for property tests of the SLA rules over more than the samples.

A :class:`ProcedureDraft` is a procedure as plain data — a deadline and a sequence of *stages*,
each a single chain of steps or parallel branches (a parallel split and join) — and
:meth:`ProcedureDraft.bpmn` writes it as a BPMN file with lienthong's properties
(``docs/bpmn-properties.md``): one lane per unit role, a reception step at the desk first, a
return step at the desk last (no share). :func:`procedure_drafts` draws drafts whose shares fit
the deadline along every path (the loader's shares check), often exactly; :func:`procedures`
draws their BPMN bytes.

hypothesis is imported when a strategy is first called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree

from lienthong.legaltime.durations import MINUTES_PER_DAY, SAME_DAY, format_duration, parse_duration
from lienthong.testing.calendars import _st
from lienthong.testing.orgs import DEMO_ROLES

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["ProcedureDraft", "StepDraft", "procedure_drafts", "procedures"]

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


@attrs.frozen
class StepDraft:
    """One user task: its id, name, the role of its lane, its share (working minutes), its
    ``lienthong:step-kind`` and the fields its officer must give."""

    id: str
    name: str
    role: str
    share_minutes: int = 0
    step_kind: str = "processing"
    required_fields: tuple[str, ...] = ()


@attrs.frozen
class ProcedureDraft:
    """A procedure as data. ``stages`` run one after the other; a stage is a tuple of branches
    (one branch: a plain chain; several: they run in parallel), a branch a tuple of steps.
    ``deadline`` is written as in BPMN: a duration (``1d2h``) or ``same-day``. The lanes of
    ``coordinating`` roles are marked ``lienthong:coordinating``."""

    code: str
    name: str
    deadline: str
    stages: tuple[tuple[tuple[StepDraft, ...], ...], ...]
    desk_role: str = "one-stop-desk"
    coordinating: frozenset[str] = frozenset()
    required_documents: tuple[str, ...] = ("don_de_nghi",)

    @property
    def deadline_minutes(self) -> int:
        """The legal deadline in working minutes (a same-day one counts one day, as the loader
        checks it)."""
        if self.deadline == SAME_DAY:
            return MINUTES_PER_DAY
        return parse_duration(self.deadline)

    @property
    def steps(self) -> list[StepDraft]:
        """Every step, stage by stage, branch by branch."""
        return [s for stage in self.stages for branch in stage for s in branch]

    @property
    def heaviest_minutes(self) -> int:
        """The greatest sum of shares along a path from start to end: each stage adds its
        heaviest branch."""
        return sum(max(sum(s.share_minutes for s in b) for b in stage) for stage in self.stages)

    @property
    def roles(self) -> list[str]:
        """The lane roles, the desk's first, then in order of first use."""
        return list(dict.fromkeys([self.desk_role, *(s.role for s in self.steps)]))

    def bpmn(self) -> bytes:
        """The procedure as a BPMN 2.0 file (UTF-8 bytes, no diagram)."""
        return _write(self)


def _write(draft: ProcedureDraft) -> bytes:
    def q(tag: str) -> str:
        return f"{{{_BPMN}}}{tag}"

    def props(parent: Any, values: dict[str, str]) -> None:
        if not values:
            return
        ext = etree.SubElement(parent, q("extensionElements"))
        box = etree.SubElement(ext, f"{{{_CAMUNDA}}}properties")
        for k, v in values.items():
            etree.SubElement(box, f"{{{_CAMUNDA}}}property", name=f"lienthong:{k}", value=v)

    root = etree.Element(
        q("definitions"),
        nsmap={"bpmn": _BPMN, "camunda": _CAMUNDA},
        id="generated_definitions",
        targetNamespace="https://lienthong.example/bpmn/generated",
    )
    pid = "p_" + "".join(c if c.isalnum() else "_" for c in draft.code)
    proc = etree.SubElement(root, q("process"), id=pid, name=draft.name, isExecutable="true")
    props(
        proc,
        {
            "procedure-code": draft.code,
            "procedure-name": draft.name,
            "deadline": draft.deadline,
            "required-documents": ";".join(draft.required_documents),
        },
    )
    # The flow graph first: nodes (id, kind, step or None) and flows (source, target).
    nodes: list[tuple[str, str, StepDraft | None]] = [("start", "startEvent", None)]
    flows: list[tuple[str, str]] = []
    last = "start"
    for k, stage in enumerate(draft.stages, 1):
        if len(stage) == 1:
            for s in stage[0]:
                nodes.append((s.id, "userTask", s))
                flows.append((last, s.id))
                last = s.id
            continue
        split, join = f"split_{k}", f"join_{k}"
        nodes.append((split, "parallelGateway", None))
        flows.append((last, split))
        for branch in stage:
            prev = split
            for s in branch:
                nodes.append((s.id, "userTask", s))
                flows.append((prev, s.id))
                prev = s.id
            flows.append((prev, join))
        nodes.append((join, "parallelGateway", None))
        last = join
    nodes.append(("end", "endEvent", None))
    flows.append((last, "end"))

    lanes = etree.SubElement(proc, q("laneSet"), id="lanes")
    for i, role in enumerate(draft.roles, 1):
        lane = etree.SubElement(lanes, q("lane"), id=f"lane_{i}", name=role)
        extra = {"coordinating": "true"} if role in draft.coordinating else {}
        props(lane, {"unit-role": role, **extra})
        for node_id, _kind, step in nodes:
            held = step.role if step is not None else draft.desk_role
            if held == role:
                etree.SubElement(lane, q("flowNodeRef")).text = node_id
    names = {f"flow_{n}": pair for n, pair in enumerate(flows, 1)}
    for node_id, kind, step in nodes:
        el = etree.SubElement(proc, q(kind), id=node_id)
        if step is not None:
            el.set("name", step.name)
            values = {"share": format_duration(step.share_minutes), "step-kind": step.step_kind}
            if step.required_fields:
                values["required-fields"] = ",".join(step.required_fields)
            props(el, values)
        for flow, (_a, b) in names.items():
            if b == node_id:
                etree.SubElement(el, q("incoming")).text = flow
        for flow, (a, _b) in names.items():
            if a == node_id:
                etree.SubElement(el, q("outgoing")).text = flow
    for flow, (a, b) in names.items():
        etree.SubElement(proc, q("sequenceFlow"), id=flow, sourceRef=a, targetRef=b)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def procedure_drafts(
    *,
    roles: Sequence[str] = DEMO_ROLES,
    code: str | None = None,
    same_day: bool | None = None,
    max_stages: int = 4,
    max_branches: int = 3,
    max_branch_steps: int = 2,
    max_deadline_days: int = 20,
    coordinating: bool = True,
    overfull: bool = False,
) -> SearchStrategy[ProcedureDraft]:
    """Random :class:`ProcedureDraft` objects.

    :param roles: the lane roles: the first is the desk's (reception and return), the others
        work the steps between (the desk too, when it is the only one).
    :param code: the procedure code; by default a random ``9.NNNNNN`` (no real code starts
        with 9).
    :param same_day: ``True`` for ``same-day`` deadlines only, ``False`` for durations only,
        ``None`` for both.
    :param max_stages: most stages between reception and return; ``max_branches``: most
        parallel branches in a stage; ``max_branch_steps``: most steps in a branch.
    :param max_deadline_days: the longest deadline, in working days (drawn whole or not).
    :param coordinating: let some lanes other than the desk's be coordinating agencies.
    :param overfull: draw procedures the loader must refuse: the shares along the heaviest path
        exceed the deadline by 1 to 480 working minutes.

    Shares fit the deadline along every path (unless ``overfull``): the deadline is cut into a
    budget per stage and each branch's steps share its stage's budget; in half the draws the
    first branch of each stage uses all of it, so the heaviest path is the deadline exactly.
    """
    st = _st()
    if not roles:
        raise ValueError("procedure_drafts: give at least the desk's role")
    if min(max_stages, max_branches, max_branch_steps, max_deadline_days) < 1:
        raise ValueError("procedure_drafts: every max_ must be at least 1")
    desk, *others = list(dict.fromkeys(roles))
    workers = others or [desk]

    def cut(draw: Any, total: int, parts: int, exact: bool) -> list[int]:
        # ``parts`` shares of ``total``: all of it when ``exact``, else at most all of it.
        points = sorted(
            draw(
                st.lists(
                    st.integers(0, total), min_size=parts - int(exact), max_size=parts - int(exact)
                )
            )
        )
        edges = [0, *points, total]
        return [edges[i + 1] - edges[i] for i in range(parts)]

    @st.composite
    def build(draw: Any) -> ProcedureDraft:
        the_code = code or draw(st.integers(1, 999_999).map(lambda n: f"9.{n:06d}"))
        sd = draw(st.booleans()) if same_day is None else same_day
        if sd:
            minutes = MINUTES_PER_DAY
        else:
            whole = st.integers(1, max_deadline_days).map(lambda d: d * MINUTES_PER_DAY)
            minutes = draw(st.one_of(whole, st.integers(1, max_deadline_days * MINUTES_PER_DAY)))
        shape = [
            [
                draw(st.integers(1, max_branch_steps))
                for _ in range(draw(st.integers(1, max_branches)))
            ]
            for _ in range(draw(st.integers(1, max_stages)))
        ]
        tight = draw(st.booleans())
        budgets = cut(draw, minutes, 1 + len(shape), exact=True)
        reception = StepDraft("reception", "Tiếp nhận hồ sơ", desk, budgets[0], "reception")
        stages: list[tuple[tuple[StepDraft, ...], ...]] = [((reception,),)]
        n = 0
        for budget, branches in zip(budgets[1:], shape, strict=True):
            stage = []
            for b, count in enumerate(branches):
                shares = cut(draw, budget, count, exact=tight and b == 0)
                branch = []
                for share in shares:
                    n += 1
                    fields = (f"ket_qua_{n}",) if draw(st.booleans()) else ()
                    role = draw(st.sampled_from(workers))
                    branch.append(
                        StepDraft(
                            f"step_{n}", f"Bước {n}: xử lý", role, share, required_fields=fields
                        )
                    )
                stage.append(tuple(branch))
            stages.append(tuple(stage))
        stages.append(((StepDraft("return_result", "Trả kết quả", desk, 0, "return"),),))
        draft = ProcedureDraft(
            code=the_code,
            name=f"Thủ tục thử nghiệm {the_code}",
            deadline=SAME_DAY if sd else format_duration(minutes),
            stages=tuple(stages),
            desk_role=desk,
        )
        if coordinating:
            used = [r for r in draft.roles if r != desk]
            draft = attrs.evolve(
                draft, coordinating=frozenset(r for r in used if draw(st.booleans()))
            )
        if overfull:
            extra = draw(st.integers(1, MINUTES_PER_DAY))
            bumped = attrs.evolve(
                reception,
                share_minutes=reception.share_minutes
                + draft.deadline_minutes
                - draft.heaviest_minutes
                + extra,
            )
            draft = attrs.evolve(draft, stages=(((bumped,),), *draft.stages[1:]))
        return draft

    return build()


def procedures(**options: Any) -> SearchStrategy[bytes]:
    """BPMN files (bytes) of :func:`procedure_drafts` (same options), ready for
    ``Engine.load_procedure(bpmn)``."""
    return procedure_drafts(**options).map(ProcedureDraft.bpmn)
