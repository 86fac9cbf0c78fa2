"""The budgets of a restricted script or condition: the clock that stops a run past its time
budget, and the guards that refuse, before computing it, an operation whose result would be
over the size budget (an integer of too many bits, a sequence of too many items).

:mod:`lienthong.bpmn.scripts` compiles scripts so that every loop step and call ticks the clock
and every widening operator or builtin goes through these guards.
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from RestrictedPython import safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

from lienthong.errors import ScriptError

#: Wall-clock seconds one script or condition may run.
TIME_BUDGET = 1.0
#: Bits of the largest integer a script may make: above the 4 300 decimal digits (about 14 300
#: bits) Python itself converts, and small enough that one multiplication takes microseconds.
MAX_INT_BITS = 16_384
#: Items (characters of a string) of the largest sequence a script may make, and the weight of the
#: task data it may leave; a procedure's fields are names, codes and numbers, far below it.
MAX_ITEMS = 1_000_000
_EXTRA_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("min", "max", "sum", "any", "all", "dict", "list", "enumerate", "sorted", "set")
}
_TEXT = (str, bytes, bytearray)
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_WIDE = (str, bytes, bytearray, int)
_NESTED = (dict, list, tuple, set, frozenset)
_FLAT = frozenset({int, float, bool, type(None)})
#: Methods whose result can be far larger than the object they are called on.
_WIDENING = frozenset(
    {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "to_bytes", "from_bytes"}
)
_DIGITS = re.compile(r"\d+")
_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}  # !s !r !a
_monotonic = time.monotonic


class _Clock:
    """The deadline of one run; :meth:`tick` is the ``_tick_`` the policy adds."""

    __slots__ = ("budget", "deadline", "spent")

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.deadline = _monotonic() + budget
        self.spent = False

    def tick(self) -> bool:
        if _monotonic() > self.deadline:
            # Sticky: a script that catches the error meets it again at its next loop step or
            # call, and its run is refused when it returns.
            self.spent = True
            raise self.error()
        return True  # lambdas and comprehension filters go on with a true value

    def error(self) -> ScriptError:
        return ScriptError(f"stopped: it ran longer than its time budget of {self.budget:g} s")


class _Limits:
    """The size guards of one environment, bound to its budgets."""

    def __init__(self, max_items: int, max_int_bits: int) -> None:
        self.max_items = max_items
        self.max_int_bits = max_int_bits

    # -- refusals ----------------------------------------------------------------------------------
    def _bits(self, what: str, bits: float) -> None:
        if bits > self.max_int_bits:
            raise ScriptError(
                f"{what} would make an integer of about {_count(bits)} bits, over the size "
                f"budget of {self.max_int_bits:,} bits"
            )

    def _items(self, what: str, items: float) -> None:
        if items > self.max_items:
            raise ScriptError(
                f"{what} would make {_count(items)} items, over the size budget of "
                f"{self.max_items:,} items"
            )

    def _operands(self, what: str, a: int, b: int) -> None:
        # Division and remainder cost the product of their operands' sizes.
        if max(a.bit_length(), b.bit_length()) > self.max_int_bits:
            raise ScriptError(
                f"{what} on an integer over the size budget of {self.max_int_bits:,} bits is "
                "refused"
            )

    # -- operators ---------------------------------------------------------------------------------
    def pow(self, a: Any, b: Any, mod: Any = None) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            if mod is None:
                if b > 1 and abs(a) > 1:
                    self._bits("'**'", math.inf if b.bit_length() > 64 else b * math.log2(abs(a)))
                return a**b
            if isinstance(mod, int):
                self._operands("pow()", mod, b)
        return builtins.pow(a, b, mod)

    def mul(self, a: Any, b: Any) -> Any:
        if isinstance(a, int):
            if isinstance(b, int):
                self._bits("'*'", a.bit_length() + b.bit_length())
            elif isinstance(b, _SEQUENCES):
                self._items("'*'", len(b) * a)
        elif isinstance(b, int) and isinstance(a, _SEQUENCES):
            self._items("'*'", len(a) * b)
        return a * b

    def lshift(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int) and a and b > 0:
            self._bits("'<<'", a.bit_length() + b)
        return a << b

    def add(self, a: Any, b: Any) -> Any:
        # Only for sequences: an integer grows by a bit at most, but 's = s + s' doubles.
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self._items("'+'", len(a) + len(b))
        return a + b

    def mod(self, a: Any, b: Any) -> Any:
        if isinstance(a, _TEXT):
            self._items("'%' formatting", _printf_size(a, b))
        elif isinstance(a, int) and isinstance(b, int):
            self._operands("'%'", a, b)
        return a % b

    def floordiv(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            self._operands("'//'", a, b)
        return a // b

    def format(self, value: Any, conversion: int, spec: str) -> str:
        if conversion != -1:
            value = _CONVERSIONS[conversion](value)
        self._items("a format width", _spec_size(spec))
        return builtins.format(value, spec)

    def inplace(self, op: str, x: Any, y: Any) -> Any:
        return self._inplace[op](x, y)

    # -- builtins ----------------------------------------------------------------------------------
    def range(self, *args: Any) -> range:
        r = builtins.range(*args)
        n: float
        try:
            n = len(r)
        except OverflowError:
            n = math.inf
        self._items("range()", n)
        return r

    def sum(self, iterable: Any, /, start: Any = 0) -> Any:
        if isinstance(start, list | tuple):
            # sum(pieces, []) copies the whole result for each piece: build it once instead.
            pieces = builtins.list(iterable)
            kind = type(start)
            for p in pieces:
                if not isinstance(p, kind):  # the error builtins.sum would reach, quadratically
                    name = kind.__name__
                    raise TypeError(
                        f'can only concatenate {name} (not "{type(p).__name__}") to {name}'
                    )
            self._items("sum()", len(start) + builtins.sum(map(len, pieces)))
            return kind(itertools.chain(start, *pieces))
        return builtins.sum(iterable, start)

    def divmod(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            self._operands("divmod()", a, b)
        return builtins.divmod(a, b)

    def round(self, number: Any, ndigits: Any = None) -> Any:
        if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
            self._bits("round()", -ndigits * math.log2(10))  # it computes 10 ** -ndigits
        return builtins.round(number, ndigits)

    # -- methods -----------------------------------------------------------------------------------
    def getattr(self, obj: Any, name: str, default: Any = None) -> Any:
        value = safer_getattr(obj, name, default)
        if name in _WIDENING and callable(value):
            if isinstance(obj, _WIDE):
                return partial(self._widen, obj, name, value)
            if isinstance(obj, type) and issubclass(obj, _WIDE):
                return partial(self._widen_unbound, obj, name, value)
        return value

    def _widen_unbound(self, cls: type, name: str, function: Any, *args: Any, **kw: Any) -> Any:
        if name == "from_bytes" or not args:
            return self._widen(cls, name, function, *args, **kw)
        return self._widen(args[0], name, partial(function, args[0]), *args[1:], **kw)

    def _widen(self, obj: Any, name: str, method: Any, *args: Any, **kw: Any) -> Any:
        what = f"{type(obj).__name__}.{name}()"
        first: Any = args[0] if args else None
        text = isinstance(obj, _TEXT)
        if name == "join" and len(args) == 1 and text:
            parts = builtins.list(first)
            inserted = builtins.sum(len(p) for p in parts if isinstance(p, _TEXT))
            self._items(what, len(obj) * max(len(parts) - 1, 0) + inserted)
            return method(parts)
        if name == "replace" and len(args) >= 2 and text:
            old, new = args[0], args[1]
            if isinstance(old, _TEXT) and isinstance(new, _TEXT) and len(new) > len(old):
                n = obj.count(old) if old else len(obj) + 1
                count = args[2] if len(args) > 2 else kw.get("count", -1)
                if isinstance(count, int) and count >= 0:
                    n = min(n, count)
                self._items(what, len(obj) + n * (len(new) - len(old)))
        elif name in ("ljust", "rjust", "center", "zfill"):
            width = kw.get("width", first)
            if isinstance(width, int):
                self._items(what, width)
        elif name == "expandtabs" and text:
            size = kw.get("tabsize", 8 if first is None else first)
            if isinstance(size, int):
                tabs = obj.count("\t" if isinstance(obj, str) else b"\t")
                self._items(what, len(obj) + tabs * size)
        elif name == "to_bytes":
            length = kw.get("length", 1 if first is None else first)
            if isinstance(length, int):
                self._items(what, length)
        elif name == "from_bytes":
            data = kw.get("bytes", first)
            if isinstance(data, bytes | bytearray | list | tuple):
                self._bits("int.from_bytes()", 8 * len(data))
        return method(*args, **kw)

    # -- output ------------------------------------------------------------------------------------
    def weigh(self, data: Any) -> None:
        """Refuse task data heavier than ``max_items`` as the store would write it out: strings
        by their characters, and a value referenced twice twice (``x = [x, x]`` sixty times is
        small in memory, astronomical in JSON). Each container is weighed once, so the walk costs
        what the data holds in memory, not what it would expand to."""
        try:
            self._weight(data, {})
        except RecursionError:
            raise ScriptError("the task data after the script is nested too deeply") from None

    def _weight(self, value: Any, memo: dict[int, int]) -> int:
        known = memo.get(id(value))
        if known is not None:
            if known < 0:  # met again while still being weighed
                raise ScriptError(
                    "the task data after the script contains itself (a cycle), which cannot be "
                    "stored"
                )
            return known
        memo[id(value)] = -1
        total = 1
        children = value
        if type(value) is dict:
            for key in value:
                total += len(key) if type(key) is str else 1
            children = value.values()
        for child in children:
            kind = type(child)
            if kind is str:
                total += 1 + len(child)
            elif kind in _FLAT:
                total += 1
            elif isinstance(child, _TEXT):
                total += 1 + len(child)
            elif isinstance(child, _NESTED):
                total += self._weight(child, memo)
            else:
                total += 1
            if total > self.max_items:
                raise ScriptError(
                    "the task data after the script would weigh more than the size budget of "
                    f"{self.max_items:,} items (strings count their characters, a value that "
                    "appears twice counts twice)"
                )
        memo[id(value)] = total
        return total

    def builtins(self) -> dict[str, Any]:
        """The builtins of a run, with the guards the policy calls: names a script cannot
        spell, so shared by every run instead of copied into each one's globals."""
        self._inplace: dict[str, Callable[[Any, Any], Any]] = {
            "+=": self.add,
            "-=": operator.sub,
            "*=": self.mul,
            "/=": operator.truediv,
            "//=": self.floordiv,
            "%=": self.mod,
            "**=": self.pow,
            "<<=": self.lshift,
            ">>=": operator.rshift,
            "&=": operator.and_,
            "|=": operator.or_,
            "^=": operator.xor,
            "@=": operator.matmul,
        }
        return {
            **safe_builtins,
            **_EXTRA_BUILTINS,
            "range": self.range,
            "pow": self.pow,
            "sum": self.sum,
            "divmod": self.divmod,
            "round": self.round,
            "_getitem_": default_guarded_getitem,
            "_getiter_": default_guarded_getiter,
            "_write_": full_write_guard,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_getattr_": self.getattr,
            "_inplacevar_": self.inplace,
            "_pow_": self.pow,
            "_mul_": self.mul,
            "_lshift_": self.lshift,
            "_add_": self.add,
            "_mod_": self.mod,
            "_floordiv_": self.floordiv,
            "_format_": self.format,
        }


def _count(n: float) -> str:
    return f"more than {2**64:,}" if n == math.inf or n > 2**64 else f"{math.ceil(n):,}"


def _spec_size(spec: str) -> int:
    """At least the length a format spec pads or extends to: its width and precision are the only
    numbers in it."""
    return builtins.sum(int(d) if len(d) < 10 else 10**10 for d in _DIGITS.findall(spec))


def _printf_size(fmt: str | bytes | bytearray, args: Any) -> int:
    """An upper bound of the padding and inserted text of ``fmt % args`` (widths, precisions,
    ``*`` arguments and the strings inserted), scanning the conversions as CPython does."""
    text = fmt if isinstance(fmt, str) else bytes(fmt).decode("latin-1")
    many = args if isinstance(args, tuple) else (args,)
    size, n, i, k = len(text), len(text), 0, 0
    while (i := text.find("%", i) + 1) > 0:
        value: Any = None
        keyed = i < n and text[i] == "("
        if keyed:
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            if isinstance(args, Mapping):
                value = args.get(text[i + 1 : j - 1])
            i = j
        while i < n and text[i] in "-+ #0":
            i += 1
        for part in ("width", "precision"):
            if part == "precision":
                if i >= n or text[i] != ".":
                    break
                i += 1
            if i < n and text[i] == "*":
                star = many[k] if k < len(many) else 0
                size += abs(star) if isinstance(star, int) else 0
                i, k = i + 1, k + 1
                continue
            j = i
            while i < n and "0" <= text[i] <= "9":
                i += 1
            if i > j:
                size += int(text[j:i]) if i - j < 10 else 10**10
        while i < n and text[i] in "hlL":
            i += 1
        if i < n and text[i] == "%":
            i += 1
            continue
        i += 1
        if not keyed:
            value = many[k] if k < len(many) else None
            k += 1
        if isinstance(value, _TEXT):
            size += len(value)
    return size
