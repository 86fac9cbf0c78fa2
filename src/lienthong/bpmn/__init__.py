"""BPMN files -> immutable procedure specs (:mod:`~lienthong.bpmn.procedures`), checked by the
rules ``lienthong lint`` reports (:mod:`~lienthong.bpmn.lint`, :mod:`~lienthong.bpmn.checks`),
the workflow class dossiers run in (:mod:`~lienthong.bpmn.workflow`), its state codec
(:mod:`~lienthong.bpmn.state`) and the restricted script engine (:mod:`~lienthong.bpmn.scripts`);
published tables of steps made into BPMN files with their diagrams (:mod:`~lienthong.bpmn.tables`,
:mod:`~lienthong.bpmn.layout`) and a procedure as a designer reads it
(:mod:`~lienthong.bpmn.summary`).

Nothing here knows the store: a workflow's state is bytes that the engine hands to it.
"""

from lienthong.bpmn.lint import LintConfig, lint_paths
from lienthong.bpmn.problems import Problem
from lienthong.bpmn.procedures import Lane, Procedure, StepSpec, load_procedure

__all__ = ["Lane", "LintConfig", "Problem", "Procedure", "StepSpec", "lint_paths", "load_procedure"]
