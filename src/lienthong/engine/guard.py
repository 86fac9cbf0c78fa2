"""The last line of defence of every public Engine method: what escapes is a LienthongError."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lienthong.engine import arguments as arg
from lienthong.errors import InternalError, LienthongError, StoreError

_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """The last line of defence of a public method: whatever escaped the checks is a
    :class:`LienthongError` when it reaches the caller.

    A :class:`sqlite3.Error` is the store failing under the command (not a database, locked,
    corrupt, closed): :class:`StoreError` naming the command and the file. Any other
    :class:`Exception` is a case lienthong did not foresee, so a bug: :class:`InternalError`, with
    the original and its traceback as ``__cause__``. What is not an :class:`Exception`
    (KeyboardInterrupt, SystemExit) passes: it is the process being stopped, not a command
    failing; so does :class:`MemoryError`, the machine's state rather than the command's.

    A wrapper, not a ``try`` in every method: one place says what a caller may receive. It costs
    about 0.3 µs a call, against the hundreds of µs a command takes (measured with
    ``bench/handoffs.py``: no change beyond the noise). The command groups themselves are not
    wrapped, so the hot path inside a command pays nothing.
    """
    command = "Engine()" if fn.__name__ == "__init__" else f"{fn.__name__}()"

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except (LienthongError, MemoryError):
            raise
        except sqlite3.Error as e:
            where = getattr(args[0], "_file", None) or "?"
            raise StoreError(arg.printable(f"{command}: the store {where}: {e}")) from e
        except Exception as e:
            raise InternalError(
                arg.printable(
                    f"{command}: unexpected {type(e).__name__}: {arg.brief(str(e))} (a bug in "
                    "lienthong: please report it with this error's __cause__ and traceback)"
                )
            ) from e

    run.__lienthong_guarded__ = True  # type: ignore[attr-defined]
    return run
