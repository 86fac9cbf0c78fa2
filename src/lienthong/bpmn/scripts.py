"""Script tasks and gateway conditions are code: by default they run under RestrictedPython.

The restricted environment compiles each script with RestrictedPython's policy (no names or
attributes that start with ``_``, no ``exec``/``eval``), gives it RestrictedPython's safe builtins
(no ``open``, no ``__import__``) plus a few harmless ones, and guards attribute, item and iteration
access. Full Python is the deployment's explicit choice: ``Engine(..., scripts="python")``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from lienthong.errors import ScriptError

_EXTRA_BUILTINS = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in ("min", "max", "sum", "any", "all", "dict", "list", "enumerate", "sorted", "set")
}


def _builtins() -> dict[str, Any]:
    b = dict(safe_builtins)
    b.update(_EXTRA_BUILTINS)
    return b


_INPLACE: dict[str, Any] = {
    "+=": lambda x, y: x + y,
    "-=": lambda x, y: x - y,
    "*=": lambda x, y: x * y,
    "/=": lambda x, y: x / y,
}

_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
}



@lru_cache(maxsize=1024)
def _compile_exec(script: str) -> Any:
    result = compile_restricted_exec(script, filename="<script>")
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def _compile_eval(expression: str) -> Any:
    result = compile_restricted_eval(expression, filename="<expression>")
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    return result.code


def check_script(script: str, *, restricted: bool = True) -> None:
    """Reject at load time what the restricted engine would refuse at run time.

    Raises :class:`ScriptError` with the reason; the caller adds the file and element id.
    """
    try:
        tree = ast.parse(script)
    except SyntaxError as e:
        raise ScriptError(f"syntax error on line {e.lineno}: {e.msg}") from None
    if not restricted:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ", ".join(a.name for a in node.names)
            mod = getattr(node, "module", None)
            what = f"from {mod} import {names}" if mod else f"import {names}"
            raise ScriptError(f"line {node.lineno}: '{what}' — imports are not allowed in scripts")
    _compile_exec(script)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs code under RestrictedPython."""

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        g = dict(_GLOBALS)
        g.update(external_context or {})
        g.update(context)
        return eval(_compile_eval(expression), g)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        g = dict(_GLOBALS)
        g.update(external_context or {})
        g.update(context)
        before = set(g)
        exec(_compile_exec(script), g)
        # Only plain data the script assigned goes back into the task data.
        for k, v in g.items():
            if k.startswith("_") or callable(v):
                continue
            if k in context or k not in before:
                context[k] = v
        for k in [k for k in context if k not in g]:
            del context[k]
        return True


def make_script_engine(mode: str = "restricted") -> PythonScriptEngine:
    """The script engine for a deployment: ``"restricted"`` (default) or ``"python"``."""
    if mode == "restricted":
        return PythonScriptEngine(environment=RestrictedEnvironment())
    if mode == "python":
        return PythonScriptEngine(environment=TaskDataEnvironment())
    raise ScriptError(f"scripts={mode!r}: choose 'restricted' or 'python'")
