"""The ``lienthong`` command: one module per command group, each thin over the public API.

Every error is one line on standard error (``Error: ...``) and a non-zero exit status, never a
traceback: :class:`Main` turns a :class:`~lienthong.errors.LienthongError` that a command lets
through into click's one-line error (exit status 1), and so it does anything unexpected, which it
calls a bug to report. ``LIENTHONG_DEBUG=1`` lets the original exception and its traceback
through instead, for that report. Bad arguments and ``--help`` are click's own (usage errors
exit with status 2).
"""

from __future__ import annotations

import os
from typing import Any

import click

# The modules, not their commands: a command named like its module would hide the module.
from lienthong.cli import (
    audit,
    calendar,
    demo,
    dossier,
    form,
    lint,
    plugins,
    procedure,
    render,
    report,
    work,
)
from lienthong.errors import InternalError, LienthongError

_DEBUG = "LIENTHONG_DEBUG"


def _printable(text: str) -> str:
    # A lone surrogate (a file name or an argument not in UTF-8) must not make printing the
    # error fail in turn.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Main(click.Group):
    """The main group: what a command raises becomes click's one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise  # click's own: it prints them (usage errors, --help, Ctrl-C) as it means to
        except LienthongError as e:
            if os.environ.get(_DEBUG):
                raise
            bug = isinstance(e, InternalError)
            hint = f" (run with {_DEBUG}=1 for the traceback)" if bug else ""
            raise click.ClickException(_printable(f"{e}{hint}")) from None
        except Exception as e:
            if os.environ.get(_DEBUG):
                raise
            raise click.ClickException(
                _printable(
                    f"unexpected {type(e).__name__}: {e} (a bug in lienthong: please report it; "
                    f"run with {_DEBUG}=1 for the traceback)"
                )
            ) from None


@click.group(cls=Main)
@click.version_option(package_name="lienthong")
def main() -> None:
    """lienthong: one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông)."""


for _command in (demo.demo, audit.audit, dossier.dossier, calendar.calendar, plugins.plugins):
    main.add_command(_command)
main.add_command(work.work)
main.add_command(lint.lint)
main.add_command(report.report)
main.add_command(render.render)
main.add_command(procedure.procedure)
main.add_command(form.form)

__all__ = ["Main", "main"]
