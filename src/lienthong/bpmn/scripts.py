"""Script tasks and gateway conditions are code: by default they run under RestrictedPython, within
a time budget and a size budget.

The restricted environment compiles each script with RestrictedPython's policy (no names or
attributes that start with ``_``, no ``exec``/``eval``), gives it RestrictedPython's safe builtins
(no ``open``, no ``__import__``) plus a few harmless ones, and guards attribute, item and iteration
access. A script runs inside an engine command, which holds SQLite's write lock, so lienthong's
policy also bounds what it may cost:

* **Time.** The policy adds a clock check at the top of every loop body, every comprehension step
  and every function and lambda body: the only ways restricted code can repeat itself. Once a run
  is over its budget (``time_budget``, 1 s of wall clock by default) every check raises
  :class:`ScriptError`, and a run whose budget was spent is refused even if the script caught the
  error. Straight-line code (most conditions) has no check and pays nothing for it.
* **Size.** A single C-level operation runs with no check inside it, for ever in practice:
  ``10 ** 10 ** 8``, ``'x' * 10 ** 10``, ``1 << 10 ** 10``, ``sum(range(10 ** 15))``,
  ``f"{x:.999999999f}"``. So ``**``, ``*``, ``<<``, ``+``, ``%`` and ``//`` (plain and augmented),
  ``pow``, ``range``, ``sum``, ``divmod``, ``round``, format widths and precisions (f-strings and
  ``%``), and the methods that widen a string or make a big one (``ljust``, ``rjust``, ``center``,
  ``zfill``, ``expandtabs``, ``replace``, ``join``, ``int.to_bytes``, ``int.from_bytes``) go
  through guards that work out the size of the result *before* computing it, and refuse an integer
  over ``max_int_bits`` bits (16 384 by default) or a sequence or string over ``max_items`` items
  (a million). The task data a script leaves is weighed too, as the store will write it out
  (strings count their characters, a value referenced twice counts twice), against ``max_items``.

What the budgets do not bound, and why:

* One C call on a value built from shared references, which is small in memory but huge when
  expanded: after ``x = [x, x]`` sixty times, ``str(x)``, ``x == y``, ``hash()`` of such tuples or
  ``sorted`` take for ever, and no in-process check can interrupt a C call. The weighing stops
  such data from reaching the store; inside the script only a worker process killed at the
  deadline would stop it, at the price of a process round trip per script.
* Memory allocated within the time budget: a loop that doubles a list with ``extend`` can claim
  gigabytes before its second is up.
* Methods not listed above whose result multiplies their operands' sizes, such as
  ``str.translate`` with long replacement strings.
* The operations the guards let through still run to the end once started: a run overshoots its
  budget by at most one of them, milliseconds at the default sizes.
* Budgets are per evaluation: a command that runs many scripts or conditions may take many.
  Wall-clock time also counts time the process was not scheduled.

Full Python is the deployment's explicit choice: ``Engine(..., scripts="python")`` runs trusted
scripts with plain ``exec``/``eval`` and *none* of these limits: no time budget, no size budget.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from types import CodeType
from typing import Any, TypeVar

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from lienthong.bpmn.script_limits import (
    MAX_INT_BITS,
    MAX_ITEMS,
    TIME_BUDGET,
    _Clock,
    _Limits,
)
from lienthong.errors import ScriptError

_N = TypeVar("_N", bound=ast.AST)

_BINOP_GUARDS = {
    ast.Pow: "_pow_",
    ast.Mult: "_mul_",
    ast.LShift: "_lshift_",
    ast.Add: "_add_",
    ast.Mod: "_mod_",
    ast.FloorDiv: "_floordiv_",
}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus the calls to lienthong's budget guards.

    The calls are added after RestrictedPython has checked a node: their names start with ``_``,
    which a script's own names may not, so a script can neither call nor rebind them itself.
    """

    @staticmethod
    def _call(name: str, args: list[ast.expr], where: Any) -> ast.Call:
        call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
        copy_locations(call, where)
        return call

    def _tick_first(self, node: Any) -> Any:
        tick = ast.Expr(self._call("_tick_", [], node))
        copy_locations(tick, node)
        node.body.insert(0, tick)
        return node

    def visit_While(self, node: ast.While) -> Any:
        return self._tick_first(super().visit_While(node))

    def visit_For(self, node: ast.For) -> Any:
        return self._tick_first(super().visit_For(node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        # Recursion repeats code with no loop, even exponentially (f calling f twice).
        return self._tick_first(super().visit_FunctionDef(node))

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = _same(node, super().visit_Lambda(node))
        node.body = ast.BoolOp(ast.And(), [self._call("_tick_", [], node.body), node.body])
        copy_locations(node.body, node)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        # A filter runs on every item, even those the comprehension then drops.
        node = _same(node, super().visit_comprehension(node))
        node.ifs.insert(0, self._call("_tick_", [], node.iter))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = _same(node, super().visit_BinOp(node))
        guard = _BINOP_GUARDS.get(type(node.op))
        return node if guard is None else self._call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = _same(node, super().visit_FormattedValue(node))
        if node.format_spec is not None:
            args = [node.value, ast.Constant(node.conversion), node.format_spec]
            node.value = self._call("_format_", args, node)
            node.conversion, node.format_spec = -1, None
        return node


def _same(node: _N, visited: Any) -> _N:
    # RestrictedPython's visitors return the node they were given for these node types.
    assert isinstance(visited, type(node))
    return visited


def _calls_tick(code: CodeType) -> bool:
    return "_tick_" in code.co_names or any(
        isinstance(c, CodeType) and _calls_tick(c) for c in code.co_consts
    )


@lru_cache(maxsize=1024)
def _compile_exec(script: str) -> tuple[CodeType, bool]:
    result = compile_restricted_exec(script, filename="<script>", policy=_Policy)
    if result.errors or result.code is None:
        raise ScriptError("; ".join(result.errors))
    return result.code, _calls_tick(result.code)


@lru_cache(maxsize=4096)
def _compile_eval(expression: str) -> tuple[CodeType, bool]:
    result = compile_restricted_eval(expression, filename="<expression>", policy=_Policy)
    if result.errors or result.code is None:
        raise ScriptError("; ".join(result.errors))
    return result.code, _calls_tick(result.code)


def check_script(script: str, *, restricted: bool = True, expression: bool = False) -> None:
    """Reject at load time what the engine would refuse at run time.

    ``expression``: the text is a gateway condition, evaluated rather than executed, so it must be
    an expression (``ok == True``, not ``ok = True``) in either mode.
    Raises :class:`ScriptError` with the reason; the caller adds the file and element id.
    """
    try:
        tree = ast.parse(script, mode="eval" if expression else "exec")
    except SyntaxError as e:
        if expression and _is_statement(script):
            raise ScriptError(
                f"{script.strip()!r} is a statement; a condition must be an expression "
                "(a comparison such as 'ok == True', not an assignment)"
            ) from None
        raise ScriptError(f"syntax error on line {e.lineno}: {e.msg}") from None
    if not restricted:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ", ".join(a.name for a in node.names)
            mod = getattr(node, "module", None)
            what = f"from {mod} import {names}" if mod else f"import {names}"
            raise ScriptError(f"line {node.lineno}: '{what}' — imports are not allowed in scripts")
    (_compile_eval if expression else _compile_exec)(script)


def _is_statement(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs code under RestrictedPython, within budgets."""

    def __init__(
        self,
        *,
        time_budget: float = TIME_BUDGET,
        max_items: int = MAX_ITEMS,
        max_int_bits: int = MAX_INT_BITS,
    ) -> None:
        super().__init__()
        if not time_budget > 0 or max_items <= 0 or max_int_bits <= 0:
            raise ScriptError(
                f"script budgets must be positive: time_budget={time_budget!r}, "
                f"max_items={max_items!r}, max_int_bits={max_int_bits!r}"
            )
        self.time_budget = time_budget
        self._limits = _Limits(max_items, max_int_bits)
        builtins = self._limits.builtins()
        # A script's own KeyboardInterrupt would pass for the operator's Ctrl-C, which
        # _ScriptEngine lets through; every other BaseException it turns into an error.
        del builtins["KeyboardInterrupt"]
        self._globals = {"__builtins__": builtins}

    def _timed(self, run: Callable[[], Any], g: dict[str, Any]) -> Any:
        clock = _Clock(self.time_budget)
        g["_tick_"] = clock.tick
        try:
            result = run()
        except Exception:
            if clock.spent:  # whatever the script turned the error into
                raise clock.error() from None
            raise
        if clock.spent:
            raise clock.error()
        return result

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        code, timed = _compile_eval(expression)
        g = dict(self._globals)
        g.update(external_context or {})
        g.update(context)
        return self._timed(partial(eval, code, g), g) if timed else eval(code, g)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        code, timed = _compile_exec(script)
        g = dict(self._globals)
        g.update(external_context or {})
        g.update(context)
        before = set(g)
        if timed:
            self._timed(partial(exec, code, g), g)
        else:
            exec(code, g)
        # Only plain data the script assigned goes back into the task data.
        for k, v in g.items():
            if k.startswith("_") or callable(v):
                continue
            if k in context or k not in before:
                context[k] = v
        for k in [k for k in context if k not in g]:
            del context[k]
        self._limits.weigh(context)
        return True


class _ScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, with the reason in a failing condition's message, and no
    way for a script to stop the process.

    The base class keeps only the type of what a condition raised, so the engine's error would
    name the dossier and the gateway but not say why (over a budget, a missing name, ...). It
    also catches only :class:`Exception`: a script's ``raise SystemExit`` (or GeneratorExit, or
    BaseException itself) would go through every ``except Exception`` up to the server's main
    loop and stop it. Such an exception fails the task like any other error; only
    KeyboardInterrupt passes, as the operator's Ctrl-C (a restricted script cannot raise one).
    """

    def execute(
        self, task: Any, script: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().execute(task, script, external_context)
        except (Exception, KeyboardInterrupt):
            raise
        except BaseException as e:
            raise _stopping(task, "the script", e) from None

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as e:
            e.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as e:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {type(e).__name__}: {e}",
                task=task,
                exception=e,
            ) from e
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise _stopping(task, f"the expression '{expression}'", e) from None


def _stopping(task: Any, what: str, e: BaseException) -> WorkflowTaskException:
    return WorkflowTaskException(
        f"{what} raised {type(e).__name__}, which would stop the engine: not allowed in a script",
        task=task,
    )


def make_script_engine(
    mode: str = "restricted",
    *,
    time_budget: float = TIME_BUDGET,
    max_items: int = MAX_ITEMS,
    max_int_bits: int = MAX_INT_BITS,
) -> PythonScriptEngine:
    """The script engine for a deployment: ``"restricted"`` (default) or ``"python"``.

    The budgets apply to the restricted mode only (see the module's documentation): seconds of
    wall clock per script or condition, items per sequence or string, bits per integer. Full
    Python is the deployment's trusted code and runs unbounded.
    """
    if mode == "restricted":
        env = RestrictedEnvironment(
            time_budget=time_budget, max_items=max_items, max_int_bits=max_int_bits
        )
        return _ScriptEngine(environment=env)
    if mode == "python":
        return _ScriptEngine(environment=TaskDataEnvironment())
    raise ScriptError(f"scripts={mode!r}: choose 'restricted' or 'python'")
