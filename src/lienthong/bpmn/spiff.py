"""SpiffWorkflow's side of reading a file: the BPMN schema, and its parser, in plain words.

The schema check reports *every* error lxml's validator finds (SpiffWorkflow's validator raises
the last one only), each on its element, with the namespaces shortened to their prefixes. The
parser stops at its first refusal; lienthong's own rules (:mod:`lienthong.bpmn.checks`) report
the usual ones first, all at once, so what SpiffWorkflow refuses beyond them is rare, and comes
translated rather than raw (``Multiple outgoing flows are not supported for tasks of type``).
"""

from __future__ import annotations

import queue
import re
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from lienthong.bpmn.problems import Findings, describe, host_of
from lienthong.bpmn.properties import NS

T = TypeVar("T")
_URIS = {uri: prefix for prefix, uri in NS.items()}
_validator: BpmnValidator | None = None
_validator_lock = threading.Lock()


def _xsd() -> BpmnValidator:
    # Compiling the schema takes longer than checking a file against it: once per process.
    global _validator
    if _validator is None:
        _validator = BpmnValidator()
    return _validator


def _short(text: str) -> str:
    return re.sub(
        r"\{([^}]*)\}", lambda m: f"{_URIS[m.group(1)]}:" if m.group(1) in _URIS else "", text
    )


def check_schema(root: Any, found: Findings) -> bool:
    """Every error of the BPMN 2.0 schema in ``root``; True when there is none."""
    with _validator_lock:
        validator = _xsd()
        # As SpiffWorkflow's own validator does: bpmn-js writes message correlations in a form
        # the schema does not allow.
        validator.preprocess(root)
        ok = validator.validator.validate(root)
        log = list(validator.validator.error_log)
    if ok:
        return True
    ids: dict[str, int] = {}
    at_line: dict[int, list[Any]] = {}
    for el in root.iter(etree.Element):
        if el.get("id"):
            ids[el.get("id")] = ids.get(el.get("id"), 0) + 1
        at_line.setdefault(el.sourceline, []).append(el)
    for error in log:
        el = _element_at(at_line.get(error.line, []), error.message)
        message, fix = _schema_words(_short(error.message), ids)
        if el is not None:
            message = f"{describe(el)}: {message}"
        found.add("bpmn-schema", el, message, fix=fix, line=error.line)
    return False


def _element_at(candidates: list[Any], message: str) -> Any:
    """Of the elements on the error's line, the one it names, shown as the element with an id
    it is in (a condition, a property has none of its own)."""
    m = re.match(r"Element '\{([^}]*)\}([^']+)'", message)
    for el in candidates:
        if not m or etree.QName(el).localname == m.group(2):
            while el.get("id") is None and el.getparent() is not None:
                el = el.getparent()
            return el
    return None


_TYPES = {
    "xs:boolean": "true or false",
    "xs:integer": "a whole number",
    "xs:QName": "a name",
    "xs:IDREF": "the id of an element",
    "xs:anyURI": "an address",
}


def _schema_words(text: str, ids: dict[str, int]) -> tuple[str, str]:
    """The schema's message in plain words, and the fix."""
    m = re.match(r"Element '([^']+)', attribute 'id': '([^']*)' is not a valid value of", text)
    if m:
        if ids.get(m.group(2), 0) > 1:
            return (
                f"the id {m.group(2)!r} is used by more than one element",
                "give each element an id of its own",
            )
        return (
            f"{m.group(2)!r} is not a valid id for {m.group(1)}",
            "an id starts with a letter or _ and has no spaces",
        )
    m = re.match(r"Element '([^']+)': This element is not expected\.(?: Expected is (.*)\.)?", text)
    if m:
        expected = re.sub(r"^(one of)?\s*\(\s*|\s*\)$", "", m.group(2) or "")
        tail = f" (expected here: {expected})" if expected else ""
        return (
            f"{m.group(1)} is not allowed here{tail}",
            "move or remove the element; the BPMN 2.0 order of children is fixed",
        )
    m = re.match(r"Element '([^']+)', attribute '([^']+)': The attribute .* is not allowed", text)
    if m:
        return (
            f"{m.group(1)} may not have the attribute {m.group(2)}",
            "remove the attribute, or give it the namespace of the tool that reads it",
        )
    m = re.match(
        r"Element '([^']+)', attribute '([^']+)': '([^']*)' is not a valid value of the "
        r"(?:atomic|list) type '([^']+)'",
        text,
    )
    if m:
        want = _TYPES.get(m.group(4), m.group(4))
        return (
            f"{m.group(1)}: {m.group(2)}={m.group(3)!r} is not valid (it must be {want})",
            f"write {want} for {m.group(2)}",
        )
    m = re.match(r"Element '([^']+)': Missing child element\(s\)\. Expected is (.*)\.", text)
    if m:
        expected = re.sub(r"^(one of)?\s*\(\s*|\s*\)$", "", m.group(2))
        return (
            f"{m.group(1)} lacks an element it must hold: {expected}",
            "add the missing element, or delete the incomplete one",
        )
    m = re.match(r"Element '([^']+)': The attribute '([^']+)' is required but missing", text)
    if m:
        return f"{m.group(1)} lacks its {m.group(2)} attribute", f"give it a {m.group(2)}"
    return f"the BPMN 2.0 schema refuses it: {text}", "correct the element as the schema says"


#: SpiffWorkflow's parse recurses once or twice per element along the sequence flows, so a long
#: chain of tasks needs a deep stack: the parse runs in a thread of its own with this much stack
#: and this recursion limit (a 2,000-task chain needs about 4,000 frames).
_PARSE_STACK_BYTES = 256 * 1024 * 1024
_PARSE_RECURSION_LIMIT = 25_000
_parse_lock = threading.Lock()
#: The thread parses run in, started at the first parse and kept: starting a thread with that
#: much stack costs more than parsing a procedure's file (a lint of 2,000 files starts it once).
_worker: threading.Thread | None = None
_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()


def _serve() -> None:
    while True:
        _jobs.get()()


def _deep(fn: Callable[[], T]) -> T:
    """``fn()`` in the thread with a deep stack; its exception is raised here."""
    global _worker
    out: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()

    def job() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # handed back to the caller's thread below
            error.append(e)
        finally:
            done.set()

    # The recursion limit is the interpreter's, not the thread's: raise it only while the parse
    # runs (one parse at a time), in a thread whose stack can hold that many frames.
    with _parse_lock:
        if _worker is None or not _worker.is_alive():  # the first parse, or a forked child
            old_stack = threading.stack_size()
            threading.stack_size(_PARSE_STACK_BYTES)
            try:
                _worker = threading.Thread(target=_serve, name="lienthong-bpmn-parse", daemon=True)
                _worker.start()
            finally:
                threading.stack_size(old_stack)
        old_limit = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(old_limit, _PARSE_RECURSION_LIMIT))
            _jobs.put(job)
            done.wait()
        finally:
            sys.setrecursionlimit(old_limit)
    if error:
        raise error[0]
    return out[0]


#: SpiffWorkflow's refusals in plain words, with a fix. Those marked True are lienthong rules'
#: too (reported first, on the element, with the designer's names): the parser's is then left out.
_SPIFF_TEXTS: list[tuple[str, str, str, bool]] = [
    (
        r"Multiple outgoing flows are not supported",
        "has several outgoing flows; only a gateway may split the way",
        "add an exclusive or a parallel gateway after it",
        True,
    ),
    (
        r"Data Store with name (.*) has no implementation",
        r"the data store \1 has no implementation: a dossier's data lives in the dossier",
        "remove the data store",
        True,
    ),
    (
        r"Non-default exclusive outgoing sequence flow without condition",
        "a flow out of this gateway has no condition and is not its default",
        "write a condition on the flow, or make it the gateway's default",
        True,
    ),
    (r"No start event found", "the process has no start event", "add a start event", True),
    (r"Process (.*) is not executable", r"the process \1 is not executable", "", True),
    (
        r"There is no support implemented for this task type",
        "SpiffWorkflow, the BPMN engine, cannot run this kind of element",
        "use user, service and script tasks with exclusive and parallel gateways",
        True,
    ),
    (r"Invalid Script Task", "the script task has no script", "write its script", True),
    (
        r"When looking for a task spec, we found two items.*\((.*)\)",
        r"a flow leads to \1, which is not an element of the process",
        "draw the flow to an element of the process",
        True,
    ),
    (
        r"Cannot resolve data(Input|Output)Association",
        "a data association of it names a data object the process does not have",
        "remove the data association, or point it at a data object of the process",
        False,
    ),
]


def _spiff_words(text: str) -> tuple[str, str, bool]:
    # SpiffWorkflow puts lxml's repr of an element in some messages: name the element instead.
    text = _short(re.sub(r"<Element (\{[^}]*\}\w+) at 0x[0-9a-f]+>", r"\1", text))
    for pattern, words, fix, ours in _SPIFF_TEXTS:
        m = re.search(pattern, text)
        if m:
            return m.expand(words), fix, ours
    return (
        f"SpiffWorkflow, the BPMN engine, cannot read the process: {text.strip()}",
        "correct the element it names",
        False,
    )


def parse_spec(root: Any, file: str, pid: str, found: Findings) -> tuple[Any, Any] | None:
    """SpiffWorkflow's spec of process ``pid`` (and of its subprocesses), or None after
    reporting why not (the schema was checked before: the parser does not check it again)."""
    parser = BpmnParser()

    def parse() -> tuple[Any, Any]:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=file)
        return parser.get_spec(pid), parser.get_subprocess_specs(pid)

    try:
        return _deep(parse)
    except ValidationException as e:
        eid = getattr(e, "id", "") or ""
        el = _by_id(root, eid)
        if _from_recursion(e):
            found.add("bpmn-engine", el, _too_deep(), line=e.line_number or None)
            return None
        words, fix, ours = _spiff_words(str(e.args[0]) if e.args else str(e))
        taken = found.has_error_on(eid) if eid else False
        if (ours and any(p.severity == "error" for p in found.items)) or taken:
            return None  # a lienthong rule said it already, better
        if el is not None:
            words = f"{describe(host_of(el))}: {words}"
        found.add("bpmn-engine", el, words, fix=fix, line=e.line_number or None)
    except RecursionError:
        found.add("bpmn-engine", None, _too_deep())
    except Exception as e:  # SpiffWorkflow's parser on a file it did not expect: say so, no trace
        if not any(p.severity == "error" for p in found.items):
            found.add(
                "bpmn-engine",
                None,
                f"SpiffWorkflow, the BPMN engine, cannot read the process: {type(e).__name__}: {e}",
                fix="correct the process; if the file opens in a modeler, report it",
            )
    return None


def _by_id(root: Any, eid: str) -> Any:
    if not eid:
        return None
    for el in root.iter(etree.Element):
        if el.get("id") == eid:
            return el
    return None


def _too_deep() -> str:
    return (
        "SpiffWorkflow's parser follows the sequence flows with one nested call per element, "
        f"and went past the recursion limit lienthong gives it ({_PARSE_RECURSION_LIMIT}) here: "
        "the process has too many elements one after another for it"
    )


def _from_recursion(error: BaseException) -> bool:
    """Whether SpiffWorkflow's error wraps a RecursionError (it turns any error into its own)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, RecursionError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
