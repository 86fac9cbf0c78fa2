"""Gateway conditions: Python expressions over the dossier's data, checked when the file loads.

Designers come from modelers whose engines speak other languages: Camunda 7 writes JUEL
(``${approved}``), Spring SpEL (``#{...}``), Camunda 8 FEEL (``=approved = true``), JavaScript
(``a && !b``). Each is named for what it is, with the Python expression to write instead when it
can be worked out. A condition that compiles but could never run (``debt_paid == true``, where
``true`` is an unknown name in Python) is refused too, rather than fail every dossier that
reaches the gateway; a name that no step, script or reception gives is a warning, since data a
step's officer gives need not be listed as required.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import io
import re
import tokenize
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from lienthong.bpmn.problems import Findings
from lienthong.bpmn.scripts import check_script
from lienthong.errors import ScriptError

#: What every dossier's data holds from reception on (Engine.receive), besides the reception
#: data and what the steps give: ``accepted`` is the reception step's answer.
RECEPTION_DATA = ("dossier_code", "channel", "applicant", "documents", "accepted")
#: Other languages' literals, and Python's.
LITERALS = {"true": "True", "false": "False", "null": "None", "undefined": "None", "nil": "None"}
_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
#: JUEL's word operators, and JavaScript's symbols, in Python.
_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "empty": "not"}
_WORDS.update({k: v for k, v in LITERALS.items()})
_SYMBOLS = [("===", "=="), ("!==", "!="), ("&&", " and "), ("||", " or ")]


def is_python(language: str | None) -> bool:
    """A script format or expression language lienthong runs: none given, or Python's."""
    return language is None or not language.strip() or "python" in language.lower()


@lru_cache(maxsize=2)
def builtin_names(restricted: bool) -> frozenset[str]:
    """The names a condition may use without the dossier giving them."""
    if not restricted:
        return frozenset(dir(builtins))
    from lienthong.bpmn.script_limits import MAX_INT_BITS, MAX_ITEMS, _Limits

    return frozenset(_Limits(MAX_ITEMS, MAX_INT_BITS).builtins())


def assigned_names(script: str) -> set[str]:
    """The names a script task assigns, which later conditions may read."""
    try:
        tree = ast.parse(script or "")
    except SyntaxError:
        return set()
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []


def _replace_tokens(text: str, pick: Any) -> str:
    """``text`` with each token for which ``pick(token)`` gives a string replaced by it."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out, pos = [], 0
    for tok in _tokens(text):
        new = pick(tok)
        if new is None:
            continue
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        out.append(text[pos:begin] + new)
        pos = end
    return "".join(out) + text[pos:]


def _compiles(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _pythonise(text: str, *, feel: bool = False) -> str | None:
    """The Python expression a JUEL, FEEL or JavaScript condition most likely means, if it
    compiles."""
    for old, new in _SYMBOLS:
        text = text.replace(old, new)
    text = re.sub(r"!(?!=)", " not ", text)

    def pick(tok: tokenize.TokenInfo) -> str | None:
        if tok.type == tokenize.NAME and tok.string in _WORDS:
            return _WORDS[tok.string]
        if feel and tok.type == tokenize.OP and tok.string == "=":
            return "=="
        return None

    out = " ".join(_replace_tokens(text, pick).split())
    return out if _compiles(out) else None


def _suggest(python: str | None, default: str) -> str:
    return f"write the Python expression {python}" if python else default


def check_condition(
    found: Findings,
    el: Any,
    where: str,
    text: str,
    *,
    line: int,
    restricted: bool,
    available: Iterable[str],
) -> None:
    """Report what is wrong with the condition ``text`` of ``el`` (``where`` describes it)."""
    s = text.strip()
    if not s:
        return
    shown = " ".join(s.split())
    m = _JUEL.match(s)
    if m or "${" in s or "#{" in s:
        python = _pythonise(m.group(1) if m else re.sub(r"[$#]\{([^}]*)\}", r"\1", s))
        found.add(
            "condition-juel",
            el,
            f"{where}: the condition {shown!r} is JUEL/SpEL (Camunda 7's ${{...}}); "
            "lienthong's conditions are Python expressions",
            fix=_suggest(python, "write it as a Python expression over the dossier's data"),
            line=line,
        )
        return
    if s.startswith("="):
        python = _pythonise(s[1:], feel=True)
        found.add(
            "condition-feel",
            el,
            f"{where}: the condition {shown!r} is FEEL (Camunda 8's =...); "
            "lienthong's conditions are Python expressions",
            fix=_suggest(python, "write it as a Python expression, without the leading ="),
            line=line,
        )
        return
    try:
        tree = ast.parse(s, mode="eval")
    except SyntaxError as e:
        _syntax(found, el, where, s, shown, e, line)
        return
    literals = [
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.lower() in LITERALS
    ]
    if literals:
        fixed = _replace_tokens(
            s,
            lambda t: (
                LITERALS[t.string.lower()]
                if t.type == tokenize.NAME and t.string.lower() in LITERALS
                else None
            ),
        )
        words = ", ".join(dict.fromkeys(literals))
        pairs = ", ".join(f"{w} -> {LITERALS[w.lower()]}" for w in dict.fromkeys(literals))
        found.add(
            "condition-literal",
            el,
            f"{where}: the condition {shown!r} uses {words}, which Python does not know "
            "(it writes True, False and None): every dossier reaching it would fail",
            fix=f"write {' '.join(fixed.split())} ({pairs})",
            line=line,
        )
        return
    try:
        check_script(s, restricted=restricted, expression=True)
    except ScriptError as e:
        found.add(
            "condition-python",
            el,
            f"{where}: the condition {shown!r} is refused: {e}",
            fix="keep to comparisons, and/or/not and the dossier's data",
            line=line,
        )
        return
    _names(found, el, where, tree, shown, line, restricted, available)


def _syntax(
    found: Findings, el: Any, where: str, s: str, shown: str, e: SyntaxError, line: int
) -> None:
    ops = {t.string for t in _tokens(s) if t.type == tokenize.OP}
    if "=" in ops:
        fixed = _replace_tokens(
            s, lambda t: "==" if t.type == tokenize.OP and t.string == "=" else None
        )
        found.add(
            "condition-assign",
            el,
            f"{where}: the condition {shown!r} uses =, which assigns; a condition compares with ==",
            fix=_suggest(fixed if _compiles(fixed) else None, "compare with =="),
            line=line,
        )
        return
    if any(sym in s for sym in ("&&", "||", "===", "!==")) or re.search(r"!(?!=)", s):
        found.add(
            "condition-python",
            el,
            f"{where}: the condition {shown!r} is JavaScript, not Python",
            fix=_suggest(_pythonise(s), "write and, or, not and == instead of &&, ||, ! and ==="),
            line=line,
        )
        return
    found.add(
        "condition-python",
        el,
        f"{where}: the condition {shown!r} is not a Python expression "
        f"(syntax error{f' at column {e.offset}' if e.offset and e.offset > 0 else ''}: {e.msg})",
        fix="write a Python expression such as approved == True or fee > 0",
        line=line,
    )


def _names(
    found: Findings,
    el: Any,
    where: str,
    tree: ast.AST,
    shown: str,
    line: int,
    restricted: bool,
    available: Iterable[str],
) -> None:
    bound = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    known = set(available) | builtin_names(restricted)
    missing = [
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        if n.id not in bound and n.id not in known
    ]
    for name in dict.fromkeys(missing):
        guess = difflib.get_close_matches(name, sorted(set(available)), n=1)
        hint = f"; did you mean {guess[0]}?" if guess else ""
        found.add(
            "condition-name",
            el,
            f"{where}: the condition {shown!r} reads {name}, which no step's "
            f"lienthong:required-fields, no script and no reception data gives{hint}",
            fix=(
                f"add {name} to lienthong:required-fields of the step that decides it (for data "
                "given at reception, the reception step), or correct the spelling"
            ),
            line=line,
        )
