"""The ``lienthong`` command: one module per command group, each thin over the public API.

Every error is one line on standard error (``Error: ...``) and a non-zero exit status, never a
traceback: :class:`Main` turns a :class:`~lienthong.errors.LienthongError` that a command lets
through into click's one-line error (exit status 1), and so it does anything unexpected, which it
calls a bug to report. ``LIENTHONG_DEBUG=1`` lets the original exception and its traceback
through instead, for that report. Bad arguments and ``--help`` are click's own (usage errors
exit with status 2).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

# The modules, not their commands: a command named like its module would hide the module.
from lienthong.cli import (
    admin,
    audit,
    calendar,
    demo,
    dossier,
    form,
    lint,
    operate,
    plugins,
    procedure,
    render,
    report,
    work,
)
from lienthong.cli.options import current_config
from lienthong.config import Config
from lienthong.errors import ConfigError, InternalError, LienthongError
from lienthong.plugins.manager import configured

_DEBUG = "LIENTHONG_DEBUG"


def _printable(text: str) -> str:
    # A lone surrogate (a file name or an argument not in UTF-8) must not make printing the
    # error fail in turn.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Main(click.Group):
    """The main group: what a command raises becomes click's one-line error; every command runs
    with the configuration's plugin list and log level (:mod:`lienthong.cli.options`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                config = current_config(ctx)
            except ConfigError:
                config = Config()  # the commands that read the file say what is wrong with it
            _logging(config.get("log_level", "info"))
            with configured(config.plugins, str(config.path)):
                return super().invoke(ctx)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise  # click's own: it prints them (usage errors, --help, Ctrl-C) as it means to
        except BrokenPipeError:
            # The reader went away (`lienthong dossiers | head`): nothing to say to it. Python's
            # own advice: point stdout at nothing, so that flushing it at exit fails no more.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
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


class _Stderr(logging.Handler):
    """Each record as one line on the standard error of the moment (click's test runner swaps
    it between commands)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # a closed stream must not stop the command
            self.handleError(record)


def _logging(level: str) -> None:
    """Log lines to standard error, one per action, the dossier code first (docs/deploy.md)."""
    log = logging.getLogger("lienthong")
    log.setLevel(level.upper())
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False


def _config_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    ctx.meta["lienthong.config_file"] = value
    return value


@click.group(cls=Main)
@click.version_option(package_name="lienthong")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    is_eager=True,
    expose_value=False,
    callback=_config_file,
    help="The configuration file (default: $LIENTHONG_CONFIG, else lienthong.toml in the "
    "working folder, if there is one).",
)
def main() -> None:
    """lienthong: one-stop and inter-agency one-stop procedures (một cửa, một cửa liên thông).

    Every command reads the deployment's configuration, lienthong.toml (see 'lienthong init');
    its options override it.
    """


for _command in (demo.demo, audit.audit, dossier.dossier, calendar.calendar, plugins.plugins):
    main.add_command(_command)
main.add_command(work.work)
main.add_command(lint.lint)
main.add_command(report.report)
main.add_command(render.render)
main.add_command(procedure.procedure)
main.add_command(form.form)
for _command in (operate.tick, operate.queue, operate.dossiers):  # the operator's (docs/deploy.md)
    main.add_command(_command)
for _command in (admin.init, admin.org, admin.db, admin.backup):
    main.add_command(_command)

__all__ = ["Main", "main"]
